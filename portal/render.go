package portal

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = map[string]*template.Template{}

func init() {
	funcs := template.FuncMap{
		"usd":  func(v float64) string { return fmt.Sprintf("$%.2f", v) },
		"usd4": func(v float64) string { return fmt.Sprintf("$%.4f", v) },
		"has":  slices.Contains[[]string],
		// num writes a drawing's coordinate.
		"num": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		// hubShared names DaskHub's unlabelled pods in the Costs page's note.
		"hubShared": func() string { return hubShared },
	}
	// Every page has a title, so titles is also the list of pages.
	for n := range titles {
		pages[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
}

// view is what every page template receives.
type view struct {
	Title    string
	Nav      string
	User     *Session
	Admin    bool
	CSRF     string
	Flash    string
	Error    string
	Data     any
	Instance string
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, s *Session, status int, page string, data any) {
	p.renderView(w, r, s, status, page, view{Data: data})
}

func (p *Portal) renderView(w http.ResponseWriter, r *http.Request, s *Session, status int, page string, v view) {
	v.Nav = page
	v.Instance = p.cfg.Instance
	if v.Title == "" {
		v.Title = titles[page]
	}
	if s != nil {
		v.User = s
		v.Admin = p.isAdmin(s)
		v.CSRF = p.seal.csrfToken(s.ID)
		var flash string
		if p.seal.readCookie(r, flashCookie, &flash) {
			v.Flash = flash
			clearCookie(w, flashCookie)
		}
	}
	var buf bytes.Buffer
	if err := pages[page].Execute(&buf, v); err != nil {
		p.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

var titles = map[string]string{
	"home": "Welcome", "signedout": "Signed out", "error": "Something went wrong",
	"machines": "My machines", "confirm": "Terminate machine", "launch": "Launch a machine",
	"keys": "SSH keys", "newkey": "New SSH key", "costs": "Costs", "admin": "Admin",
}

// fail shows msg on the error page with status.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, s *Session, status int, msg string) {
	p.renderView(w, r, s, status, "error", view{Error: msg})
}

// done redirects after a successful action (post/redirect/get), carrying a
// one-time message in a sealed cookie so that it cannot be forged via URL.
func (p *Portal) done(w http.ResponseWriter, r *http.Request, to, msg string) {
	_ = p.seal.setCookie(w, flashCookie, msg, time.Minute, http.SameSiteStrictMode)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
