#!/usr/bin/env bash
# Mutation testing of the portal's sign-in handlers, by hand.
#
# gremlins (docs/security.md, "Mutation testing") mutates whole files, and
# portal/portal.go holds the launch, machine and credential code as well as
# sign-in. This script applies the mutations listed below to the sign-in
# code of portal/portal.go only (formActionOrigins, session, user,
# sameOrigin, home, login, callback, logout), one at a time. The operators
# named as gremlins v0.6.0 names them (CONDITIONALS_NEGATION, INVERT_LOGICAL,
# ARITHMETIC_BASE) are every mutant gremlins makes on those lines (compare
# `gremlins unleash --dry-run`); the others are what gremlins does not do:
# NEGATE_CONDITION adds or drops a `!`, REMOVE_TERM drops one term of a
# condition, REMOVE_CHECK a whole check, REMOVE_RETURN the `return` after an
# error page or redirect, REMOVE_CALL a call, RETURN_VALUE flips a returned
# bool. For each mutant it runs `go test ./portal` and reports
#   KILLED      a test failed
#   LIVED       every test passed: no test notices the change
#   NOT VIABLE  the mutant does not compile
#   TIMED OUT   the tests ran longer than MUTATE_TIMEOUT (default 600 s)
#
# It works on a copy of the repository (tracked and untracked, not ignored
# files) in MUTATE_DIR (default $TMPDIR/mutate-signin), so the working tree is
# never modified; after every mutant the copy's portal.go is restored from the
# saved original and compared with it. Each mutation names text that must
# occur exactly once in portal.go: when portal.go changes under a mutation,
# the script says which one is stale and stops before testing anything.
#
# The tests run as gremlins runs them in docs/security.md (CGO_ENABLED=0,
# Chromium off the PATH so the two browser tests skip, -failfast), except
# with -vet=off: vet refuses some mutants before any test runs (`a != x ||
# a != y` is "suspect or"), and `go test` reports that as a failed build like
# a compile error. Here the tests judge every mutant that compiles. Every
# test of the package signs in through login and callback or passes the user
# gate, so the whole package is run, not a -run subset.
#
# Usage: nice -n 19 scripts/mutate-signin.sh [-l] [ID ...]
#   -l   list the mutations and check that each still applies; run nothing
#   ID   run only these mutations (default: all)
# Output: one line per mutant, then the totals; the test output of each
# mutant is in MUTATE_DIR/log/ID.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${MUTATE_DIR:-${TMPDIR:-/tmp}/mutate-signin}
timeout_s=${MUTATE_TIMEOUT:-600}
target=portal/portal.go

ids=() kinds=() olds=() news=()
# mut ID OPERATOR OLD NEW: replace the single occurrence of OLD by NEW.
mut() { ids+=("$1"); kinds+=("$2"); olds+=("$3"); news+=("$4"); }

# formActionOrigins: the CSP lets forms post to the provider's logout host.
mut f1 CONDITIONALS_NEGATION 'err == nil && u.Host != ""' 'err != nil && u.Host != ""'
mut f2 CONDITIONALS_NEGATION 'err == nil && u.Host != ""' 'err == nil && u.Host == ""'
mut f3 INVERT_LOGICAL 'err == nil && u.Host != ""' 'err == nil || u.Host != ""'
mut f4 REMOVE_TERM 'err == nil && u.Host != ""' 'err == nil'
mut f5 ARITHMETIC_BASE 'u.Scheme + "://"' 'u.Scheme - "://"'
mut f6 ARITHMETIC_BASE '"://" + u.Host' '"://" - u.Host'

# session: a sealed cookie, not expired, with a subject.
mut s1 INVERT_LOGICAL 'readCookie(r, sessionCookie, &s) && p.now()' 'readCookie(r, sessionCookie, &s) || p.now()'
mut s2 INVERT_LOGICAL 'Before(s.Expires) && s.Subject' 'Before(s.Expires) || s.Subject'
mut s3 CONDITIONALS_NEGATION 's.Subject != ""' 's.Subject == ""'
mut s4 REMOVE_TERM 'p.seal.readCookie(r, sessionCookie, &s) && ' '(p.seal.readCookie(r, sessionCookie, &s) || true) && '
mut s5 REMOVE_TERM 'p.now().Before(s.Expires) && ' ''
mut s6 REMOVE_TERM ' && s.Subject != ""' ''

# user: a session is required; state changes need same origin and CSRF token.
mut u1 NEGATE_CONDITION $'s, ok := p.session(r)\n\t\tif !ok {' $'s, ok := p.session(r)\n\t\tif ok {'
mut u2 CONDITIONALS_NEGATION 'if r.Method == http.MethodGet {' 'if r.Method != http.MethodGet {'
mut u3 ARITHMETIC_BASE '"/login?return="+url' '"/login?return="-url'
mut u4 REMOVE_RETURN $'url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)\n\t\t\t\treturn\n' $'url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)\n'
mut u5 REMOVE_RETURN $'"Your session has ended. Please sign in again.")\n\t\t\treturn\n' $'"Your session has ended. Please sign in again.")\n'
mut u6 CONDITIONALS_NEGATION 'r.Method != http.MethodGet && r.Method' 'r.Method == http.MethodGet && r.Method'
mut u7 CONDITIONALS_NEGATION 'r.Method != http.MethodHead' 'r.Method == http.MethodHead'
mut u8 INVERT_LOGICAL 'http.MethodGet && r.Method != http.MethodHead' 'http.MethodGet || r.Method != http.MethodHead'
mut u9 REMOVE_TERM 'r.Method != http.MethodGet && r.Method != http.MethodHead' 'r.Method != http.MethodHead'
mut u10 REMOVE_TERM 'r.Method != http.MethodGet && r.Method != http.MethodHead' 'r.Method != http.MethodGet'
mut u11 REMOVE_CHECK 'if r.Method != http.MethodGet && r.Method != http.MethodHead {' 'if false {'
mut u12 NEGATE_CONDITION '!p.sameOrigin(r) ||' 'p.sameOrigin(r) ||'
mut u13 NEGATE_CONDITION '|| !p.seal.checkCSRF(' '|| p.seal.checkCSRF('
mut u14 INVERT_LOGICAL '!p.sameOrigin(r) || !p.seal' '!p.sameOrigin(r) && !p.seal'
mut u15 REMOVE_TERM '!p.sameOrigin(r) || ' ''
mut u16 REMOVE_TERM ' || !p.seal.checkCSRF(s.ID, r.PostFormValue("csrf"))' ''
mut u17 REMOVE_RETURN $'Reload the page and try again.")\n\t\t\t\treturn\n' $'Reload the page and try again.")\n'

# sameOrigin: Sec-Fetch-Site and Origin, when the browser sends them.
mut o1 CONDITIONALS_NEGATION 'site != "" &&' 'site == "" &&'
mut o2 CONDITIONALS_NEGATION 'site != "same-origin"' 'site == "same-origin"'
mut o3 CONDITIONALS_NEGATION 'site != "none"' 'site == "none"'
mut o4 INVERT_LOGICAL 'site != "" && site' 'site != "" || site'
mut o5 INVERT_LOGICAL '"same-origin" && site' '"same-origin" || site'
mut o6 REMOVE_TERM 'site != "" && ' ''
mut o7 REMOVE_TERM ' && site != "same-origin"' ''
mut o8 REMOVE_TERM ' && site != "none"' ''
mut o9 RETURN_VALUE $'site != "none" {\n\t\treturn false' $'site != "none" {\n\t\treturn true'
mut o10 CONDITIONALS_NEGATION 'o != "" &&' 'o == "" &&'
mut o11 CONDITIONALS_NEGATION 'o != "null"' 'o == "null"'
mut o12 CONDITIONALS_NEGATION 'o != p.cfg.BaseURL' 'o == p.cfg.BaseURL'
mut o13 INVERT_LOGICAL 'o != "" && o' 'o != "" || o'
mut o14 INVERT_LOGICAL '"null" && o' '"null" || o'
mut o15 REMOVE_TERM 'o != "" && ' ''
mut o16 REMOVE_TERM ' && o != "null"' ''
mut o17 RETURN_VALUE $'o != p.cfg.BaseURL {\n\t\treturn false' $'o != p.cfg.BaseURL {\n\t\treturn true'
mut o18 RETURN_VALUE $'\treturn true\n}\n\nfunc (p *Portal) home' $'\treturn false\n}\n\nfunc (p *Portal) home'

# home: a signed-in visitor goes to their machines.
mut h1 NEGATE_CONDITION 'if _, ok := p.session(r); ok {' 'if _, ok := p.session(r); !ok {'
mut h2 REMOVE_RETURN $'http.Redirect(w, r, "/machines", http.StatusSeeOther)\n\t\treturn\n' $'http.Redirect(w, r, "/machines", http.StatusSeeOther)\n'

# login: return-URL guard, login state, the provider's authorize URL.
mut l1 REMOVE_CALL 'ret := returnPath(r.URL.Query().Get("return"))' 'ret := r.URL.Query().Get("return")'
mut l2 ARITHMETIC_BASE 'p.now().Add(10 * time.Minute)' 'p.now().Add(10 / time.Minute)'
mut l3 CONDITIONALS_NEGATION $'p.oidc.authorizeURL(r.Context(), ls)\n\tif err != nil {' $'p.oidc.authorizeURL(r.Context(), ls)\n\tif err == nil {'
mut l4 REMOVE_CHECK $'p.oidc.authorizeURL(r.Context(), ls)\n\tif err != nil {' $'p.oidc.authorizeURL(r.Context(), ls)\n\tif false {'
mut l5 REMOVE_RETURN $'"The sign-in service cannot be reached. Try again in a minute.")\n\t\treturn\n' $'"The sign-in service cannot be reached. Try again in a minute.")\n'
mut l6 CONDITIONALS_NEGATION 'p.seal.setCookie(w, loginCookie, ls, ls.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil' 'p.seal.setCookie(w, loginCookie, ls, ls.Expires.Sub(p.now()), http.SameSiteLaxMode); err == nil'
mut l7 REMOVE_CHECK 'p.seal.setCookie(w, loginCookie, ls, ls.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil' 'p.seal.setCookie(w, loginCookie, ls, ls.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil && false'
mut l8 REMOVE_RETURN $'"Could not start sign-in.")\n\t\treturn\n' $'"Could not start sign-in.")\n'

# callback: the login cookie, its expiry and state; the provider's answer;
# the code exchange; pending users; the session cookie; the return URL.
mut c1 NEGATE_CONDITION '!p.seal.readCookie(r, loginCookie, &ls)' 'p.seal.readCookie(r, loginCookie, &ls)'
mut c2 NEGATE_CONDITION '!p.now().Before(ls.Expires)' 'p.now().Before(ls.Expires)'
mut c3 CONDITIONALS_NEGATION 'q.Get("state") != ls.State' 'q.Get("state") == ls.State'
mut c4 CONDITIONALS_NEGATION 'ls.State == ""' 'ls.State != ""'
mut c5 INVERT_LOGICAL 'loginCookie, &ls) || !p.now()' 'loginCookie, &ls) && !p.now()'
mut c6 INVERT_LOGICAL 'Before(ls.Expires) || q.Get' 'Before(ls.Expires) && q.Get'
mut c7 INVERT_LOGICAL 'ls.State || ls.State' 'ls.State && ls.State'
mut c8 REMOVE_TERM '!p.seal.readCookie(r, loginCookie, &ls) || ' '(p.seal.readCookie(r, loginCookie, &ls) && false) || '
mut c9 REMOVE_TERM '!p.now().Before(ls.Expires) || ' ''
mut c10 REMOVE_TERM 'q.Get("state") != ls.State || ' ''
mut c11 REMOVE_TERM ' || ls.State == ""' ''
mut c12 REMOVE_RETURN $'"This sign-in link has expired. Please sign in again.")\n\t\treturn\n' $'"This sign-in link has expired. Please sign in again.")\n'
mut c13 REMOVE_CALL $'\tclearCookie(w, loginCookie)\n' ''
mut c14 CONDITIONALS_NEGATION 'e := q.Get("error"); e != ""' 'e := q.Get("error"); e == ""'
mut c15 REMOVE_CHECK 'e := q.Get("error"); e != ""' 'e := q.Get("error"); false'
mut c16 REMOVE_RETURN $'q.Get("error_description"))\n\t\treturn\n' $'q.Get("error_description"))\n'
mut c17 ARITHMETIC_BASE '"Sign-in was refused: "+e' '"Sign-in was refused: "-e'
mut c18 ARITHMETIC_BASE 'e+" "' 'e-" "'
mut c19 ARITHMETIC_BASE '" "+q.Get' '" "-q.Get'
mut c20 CONDITIONALS_NEGATION $'q.Get("code"), ls)\n\tif err != nil {' $'q.Get("code"), ls)\n\tif err == nil {'
mut c21 REMOVE_CHECK $'q.Get("code"), ls)\n\tif err != nil {' $'q.Get("code"), ls)\n\tif false {'
mut c22 REMOVE_RETURN $'"Sign-in failed. Please try again.")\n\t\treturn\n' $'"Sign-in failed. Please try again.")\n'
mut c23 NEGATE_CONDITION 'if slices.Contains(c.Groups, p.cfg.PendingGroup) {' 'if !slices.Contains(c.Groups, p.cfg.PendingGroup) {'
mut c24 REMOVE_CHECK 'if slices.Contains(c.Groups, p.cfg.PendingGroup) {' 'if false {'
mut c25 REMOVE_RETURN $'"Your account is waiting for an administrator\'s approval.")\n\t\treturn\n' $'"Your account is waiting for an administrator\'s approval.")\n'
mut c26 CONDITIONALS_NEGATION 'if s.Name == "" {' 'if s.Name != "" {'
mut c27 REMOVE_CHECK 'if s.Name == "" {' 'if false {'
mut c28 CONDITIONALS_NEGATION 'p.seal.setCookie(w, sessionCookie, s, s.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil' 'p.seal.setCookie(w, sessionCookie, s, s.Expires.Sub(p.now()), http.SameSiteLaxMode); err == nil'
mut c29 REMOVE_CHECK 'p.seal.setCookie(w, sessionCookie, s, s.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil' 'p.seal.setCookie(w, sessionCookie, s, s.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil && false'
mut c30 REMOVE_RETURN $'"Could not start the session.")\n\t\treturn\n' $'"Could not start the session.")\n'
mut c31 REMOVE_CALL 'http.Redirect(w, r, ls.Return, http.StatusSeeOther)' 'http.Redirect(w, r, homePath, http.StatusSeeOther)'

# logout: the cookie, the cached AWS credentials, the provider's session.
mut g1 REMOVE_CALL $'\tclearCookie(w, sessionCookie)\n' ''
mut g2 REMOVE_CALL $'\tdelete(p.creds, s.IDToken)\n' ''
mut g3 CONDITIONALS_NEGATION 'if p.cfg.LogoutURL == "" {' 'if p.cfg.LogoutURL != "" {'
mut g4 REMOVE_CHECK 'if p.cfg.LogoutURL == "" {' 'if false {'
mut g5 REMOVE_RETURN $'http.Redirect(w, r, "/signed-out", http.StatusSeeOther)\n\t\treturn\n' $'http.Redirect(w, r, "/signed-out", http.StatusSeeOther)\n'
mut g6 ARITHMETIC_BASE 'p.cfg.BaseURL + "/signed-out"' 'p.cfg.BaseURL - "/signed-out"'
mut g7 ARITHMETIC_BASE 'p.cfg.LogoutURL+"?"' 'p.cfg.LogoutURL-"?"'
mut g8 ARITHMETIC_BASE '"?"+q.Encode()' '"?"-q.Encode()'

list=false
if [ "${1:-}" = -l ]; then list=true; shift; fi
want=" $* "

# count OLD FILE: how many times OLD occurs in FILE.
count() { OLD=$1 perl -0777 -ne 'my $n = () = /\Q$ENV{OLD}\E/g; print $n' "$2"; }
# apply OLD NEW FILE: replace the one occurrence of OLD in FILE by NEW.
apply() { OLD=$1 NEW=$2 perl -0777 -pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/' "$3"; }

stale=0
for i in "${!ids[@]}"; do
  n=$(count "${olds[$i]}" "$repo/$target")
  if [ "$n" != 1 ]; then
    echo "STALE ${ids[$i]}: its text occurs $n times in $target, not once" >&2
    stale=1
  fi
done
[ "$stale" = 0 ] || exit 2
if $list; then
  for i in "${!ids[@]}"; do printf '%-4s %-22s %s\n' "${ids[$i]}" "${kinds[$i]}" "${olds[$i]%%$'\n'*}"; done
  exit 0
fi

# The copy is replaced on every run; refuse to delete a folder it did not make.
if [ -e "$work" ] && [ ! -e "$work/log/portal.go.orig" ]; then
  echo "$work exists and is not an earlier copy of this script's; set MUTATE_DIR" >&2
  exit 2
fi
echo "copying the repository to $work"
rm -rf "$work"
mkdir -p "$work/log"
git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar -cf - --null -T - | tar -xf - -C "$work"
orig="$work/log/portal.go.orig"
cp "$work/$target" "$orig"
restore() { cp "$orig" "$work/$target"; cmp -s "$orig" "$work/$target"; }
trap restore EXIT

# runtests LOG: go test ./portal as gremlins runs it; prints the status.
runtests() {
  local rc=0
  (cd "$work" && timeout "$timeout_s" env -u CHROMIUM -u CI CGO_ENABLED=0 \
    PATH="$(go env GOROOT)/bin" go test -count=1 -failfast -vet=off ./portal) >"$1" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then echo LIVED
  elif [ "$rc" = 124 ]; then echo "TIMED OUT"
  # go test exits 1 for a failed build as for a failed test.
  elif grep -q '\[build failed\]\|\[setup failed\]' "$1"; then echo "NOT VIABLE"
  else echo KILLED
  fi
}

start=$(date +%s)
echo "unmutated portal.go:"
if [ "$(runtests "$work/log/unmutated.txt")" != LIVED ]; then
  echo "the tests fail without a mutation; see $work/log/unmutated.txt" >&2
  exit 1
fi
echo "  tests pass ($(($(date +%s) - start)) s)"

declare -A total=()
for i in "${!ids[@]}"; do
  id=${ids[$i]}
  if [ -n "$*" ] && [[ $want != *" $id "* ]]; then continue; fi
  apply "${olds[$i]}" "${news[$i]}" "$work/$target"
  t0=$(date +%s)
  status=$(runtests "$work/log/$id.txt")
  restore || { echo "could not restore $target" >&2; exit 1; }
  total[$status]=$((${total[$status]:-0} + 1))
  printf '%-10s %-4s %-22s %3ss  %s\n' "$status" "$id" "${kinds[$i]}" "$(($(date +%s) - t0))" "${olds[$i]%%$'\n'*}"
done

killed=${total[KILLED]:-0} lived=${total[LIVED]:-0}
echo "killed $killed, lived $lived, not viable ${total[NOT VIABLE]:-0}, timed out ${total[TIMED OUT]:-0}; $(($(date +%s) - start)) s"
if [ $((killed + lived)) -gt 0 ]; then
  awk -v k="$killed" -v l="$lived" 'BEGIN { printf "efficacy (killed / (killed + lived)): %.1f%%\n", 100 * k / (k + l) }'
fi
