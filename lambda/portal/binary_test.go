package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/heliocloud/heliocloud-go/internal/modroot"
)

// The portal's binary links only the SDK operations it calls (clients.go).
// Built as the Lambda is built (constructs/golambda), but with its symbol
// table, it must hold few exported methods of any SDK client: through
// html/template's reflection, a client reachable from an interface would
// bring every one of its operations (EC2's 812 made the binary 49.6 MB).
func TestBinaryLinksOnlyTheOperationsItCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Lambda binary")
	}
	root, err := modroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags", "-w -buildid=", "-o", out, "./lambda/portal")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	method := regexp.MustCompile(`/service/(\w+)\.\(\*Client\)\.([A-Z]\w*)$`)
	perService := map[string]int{}
	for _, s := range syms {
		if m := method.FindStringSubmatch(s.Name); m != nil {
			perService[m[1]]++
		}
	}
	// The config package's credential clients (sts, sso, signin) link a
	// dozen each; the portal's own use at most nine of one client (EC2).
	for svc, n := range perService {
		if n > 15 {
			t.Errorf("%d exported methods of the %s client are linked: is a client stored in an interface? (clients.go)", n, svc)
		}
	}
	// Each client the portal calls must show up, or the check reads nothing
	// (and a client wired through an interface the linker cannot see
	// would go unnoticed).
	for _, svc := range []string{"ec2", "cognitoidentityprovider", "costexplorer", "athena"} {
		if perService[svc] == 0 {
			t.Errorf("no %s client methods found in the symbols (%d symbols)", svc, len(syms))
		}
	}
	if st, err := os.Stat(out); err == nil {
		t.Logf("binary: %.1f MB; SDK client methods linked: %v", float64(st.Size())/1e6, perService)
	}
}
