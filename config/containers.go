package config

// Containers is the ECR repositories teams publish images to.
type Containers struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
}

func (x *Containers) check(c *checker, cfg *Config) {}
