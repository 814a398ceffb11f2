package config

// Data is the S3 buckets for datasets, teams, shared work and scratch.
type Data struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
}

func (x *Data) check(c *checker, cfg *Config) {}
