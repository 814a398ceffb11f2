package test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The CDK app renders the portal's and the registry's configuration but
// calls no AWS API: linking an AWS SDK service client into it only makes
// every `cdk synth` compile-check hundreds of packages more (issue 13:
// 591 against 366). Values the stacks share with code that runs in AWS
// belong in SDK-free packages such as portal/portalconfig and
// registry/registryconfig.
func TestSynthAppLinksNoAWSSDK(t *testing.T) {
	deps := linkedPackages(t, ".")
	if len(deps) < 100 || !slices.Contains(deps, "github.com/aws/aws-cdk-go/awscdk/v2") {
		t.Fatalf("go list -deps gave %d packages without aws-cdk-go: not the CDK app's graph", len(deps))
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/") {
			t.Errorf("the synth app imports %s (find who with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' . | grep %s)", p, p)
		}
	}
}

// The cost package prices instance files for `heliocloud cost` and
// `validate`, which run without Node.js: it links neither CDK nor jsii nor
// an AWS SDK client (prices are a table in code, not Price List API calls).
func TestCostPackageLinksNoCDKOrSDK(t *testing.T) {
	deps := linkedPackages(t, "./cost")
	if !slices.Contains(deps, "github.com/heliocloud/heliocloud-go/config") {
		t.Fatalf("go list -deps ./cost gave %d packages without config: not the cost package's graph", len(deps))
	}
	for _, p := range deps {
		for _, banned := range []string{"github.com/aws/aws-cdk-go/", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go/", "github.com/aws/aws-sdk-go-v2/service/"} {
			if strings.HasPrefix(p, banned) {
				t.Errorf("the cost package imports %s", p)
			}
		}
	}
}

// linkedPackages lists the import paths pkg links, itself included (go list -deps).
func linkedPackages(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg)
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
