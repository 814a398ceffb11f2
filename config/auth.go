package config

// Auth is the sign-in component: Cognito users, groups and teams.
type Auth struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
}

func (x *Auth) check(c *checker, cfg *Config) {}
