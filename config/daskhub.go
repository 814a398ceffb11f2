package config

// Daskhub is JupyterHub and Dask Gateway on EKS.
type Daskhub struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
}

func (x *Daskhub) check(c *checker, cfg *Config) {}
