package portal

import (
	"errors"
	"strings"
	"testing"
)

func TestArch(t *testing.T) {
	for typ, want := range map[string]string{
		"t3.medium": "x86_64", "m7i.large": "x86_64", "g4dn.xlarge": "x86_64", "p5en.48xlarge": "x86_64", "g6e.xlarge": "x86_64",
		"m7g.large": "arm64", "c7gn.large": "arm64", "r6gd.large": "arm64", "g5g.xlarge": "arm64", "t4g.small": "arm64", "is4gen.large": "arm64",
	} {
		if got := Arch(typ); got != want {
			t.Errorf("Arch(%s) = %s, want %s", typ, got, want)
		}
	}
}

func TestOnDemandUSD(t *testing.T) {
	doc := `{"terms":{"OnDemand":{"A.B":{"priceDimensions":{"A.B.C":{"unit":"Hrs","pricePerUnit":{"USD":"0.0832000000"}}}}}}}`
	if v, err := onDemandUSD([]string{`not json`, `{"terms":{"OnDemand":{}}}`, doc}); err != nil || v != 0.0832 {
		t.Errorf("got %v %v", v, err)
	}
	zero := `{"terms":{"OnDemand":{"A.B":{"priceDimensions":{"A.B.C":{"pricePerUnit":{"USD":"0.0000000000"}}}}}}}`
	if _, err := onDemandUSD([]string{zero}); !errors.Is(err, errPriceUnknown) {
		t.Errorf("a zero price must be unknown, got %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	err := (&Config{BaseURL: "https://x/", Volume: VolumeBounds{MinGiB: 64, MaxGiB: 32, DefaultGiB: 8}}).Validate()
	for _, want := range []string{"instance is required", "region is required", "issuer is required", "clientID is required", "identityPoolID is required", "without a trailing slash", "at least one subnet", "volume bounds"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation error lacks %q: %v", want, err)
		}
	}
}
