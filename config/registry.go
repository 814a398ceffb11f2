package config

// Registry is the CloudCatalog indexer of the dataset buckets.
type Registry struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
}

func (x *Registry) check(c *checker, cfg *Config) {}
