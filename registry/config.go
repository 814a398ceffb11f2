package registry

import "github.com/heliocloud/heliocloud-go/registry/registryconfig"

// The indexer's configuration lives in registryconfig, which imports no AWS
// SDK, so that the CDK app can render it without linking the S3 client.
type (
	Config      = registryconfig.Config
	CatalogInfo = registryconfig.CatalogInfo
	Dataset     = registryconfig.Dataset
	Duration    = registryconfig.Duration
	TimeRule    = registryconfig.TimeRule
	Matcher     = registryconfig.Matcher
)

// EnvConfig is the environment variable through which the Lambda receives
// its Config as JSON.
const EnvConfig = registryconfig.EnvConfig

// ParseConfig is registryconfig.ParseConfig.
func ParseConfig(data []byte) (*Config, error) { return registryconfig.ParseConfig(data) }

// ConfigFromEnv is registryconfig.ConfigFromEnv.
func ConfigFromEnv() (*Config, error) { return registryconfig.ConfigFromEnv() }
