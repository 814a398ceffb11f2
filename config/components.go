package config

import (
	"fmt"
	"strings"
)

// Component describes one switchable part of an instance.
type Component struct {
	// Name is the YAML section and the stack-name suffix.
	Name string
	// Needs lists the components this one cannot work without.
	Needs []string
}

// Components lists every component in dependency order: a component comes
// after everything it needs.
var Components = []Component{
	{Name: "auth"},
	{Name: "data"},
	{Name: "containers", Needs: []string{"data"}},
	{Name: "registry", Needs: []string{"data"}},
	{Name: "portal", Needs: []string{"auth", "data"}},
	{Name: "daskhub", Needs: []string{"auth"}},
}

// Enabled reports whether the named component is switched on; base always is.
func (cfg *Config) Enabled(name string) bool {
	switch name {
	case "base":
		return true
	case "auth":
		return cfg.Auth.Enabled
	case "portal":
		return cfg.Portal.Enabled
	case "daskhub":
		return cfg.Daskhub.Enabled
	case "data":
		return cfg.Data.Enabled
	case "registry":
		return cfg.Registry.Enabled
	case "containers":
		return cfg.Containers.Enabled
	}
	panic(fmt.Sprintf("config: no component %q", name))
}

// EnabledComponents lists the enabled components in dependency order,
// base first.
func (cfg *Config) EnabledComponents() []string {
	names := []string{"base"}
	for _, comp := range Components {
		if cfg.Enabled(comp.Name) {
			names = append(names, comp.Name)
		}
	}
	return names
}

// checkComponents refuses components switched on without what they need. It does not switch dependencies on by
// itself: an admin should see every stack that a deploy creates in the file.
func (cfg *Config) checkComponents(c *checker) {
	for _, comp := range Components {
		if !cfg.Enabled(comp.Name) {
			continue
		}
		path := comp.Name + ".enabled"
		var missing []string
		for _, need := range comp.Needs {
			if !cfg.Enabled(need) {
				missing = append(missing, need)
			}
		}
		if len(missing) > 0 {
			c.errorf(path, "%s needs %s: set %s too", comp.Name, strings.Join(missing, " and "), enableHint(missing))
		}
	}
}

func enableHint(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ".enabled: true"
	}
	return strings.Join(parts, " and ")
}
