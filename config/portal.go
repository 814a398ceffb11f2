package config

// Portal is the self-service dashboard for virtual machines, keys and costs.
type Portal struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
}

func (x *Portal) check(c *checker, cfg *Config) {}
