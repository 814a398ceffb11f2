// Package config turns an institution's instance file into a typed,
// defaulted and validated description of one HelioCloud instance.
//
// The instance file is laid over built-in defaults: scalar defaults live in
// the `default` struct tags below, default collections (node groups,
// profiles) in defaults/*.yaml. Mappings merge key by key, lists replace,
// and `name: null` removes an entry the defaults provide. Every mistake is
// reported at once with file, line and key path.
//
// The package imports nothing of CDK, so `heliocloud validate` runs without
// Node.js and the tests run in milliseconds.
package config

//go:generate go run ./internal/fielddocs/gen

// Config is one HelioCloud instance: what an institution deploys and how.
type Config struct {
	// Name of the instance: lower-case letters, digits and hyphens, starting
	// with a letter, at most 20 characters. It prefixes every stack name and
	// physical name, so that several instances can share an account and region.
	Name string `yaml:"name" required:"true"`
	// Institution is the display name shown on sign-in pages and dashboards.
	Institution string `yaml:"institution" default:"HelioCloud"`
	// Account is the 12-digit AWS account id to deploy into. Default: the
	// CDK CLI's CDK_DEFAULT_ACCOUNT, else the stacks are environment-agnostic.
	Account string `yaml:"account"`
	// Region is the AWS region to deploy into, such as us-east-1, or a
	// GovCloud region such as us-gov-west-1; one of the deployer's table of
	// regions (config/regions.go). Default: the CDK CLI's
	// CDK_DEFAULT_REGION, else the stacks are environment-agnostic.
	Region string `yaml:"region"`
	// Tags are added to every resource, besides heliocloud:instance and
	// heliocloud:component, so costs can be split by cost centre or project.
	Tags map[string]string `yaml:"tags"`
	// Teams of researchers, keyed by name (lower-case letters, digits and
	// hyphens). Each team becomes a Cognito group and can own a team bucket,
	// container repositories and DaskHub profiles.
	Teams map[string]Team `yaml:"teams"`
	// Base is the networking and cost guard every instance has.
	Base Base `yaml:"base"`
	// Auth is the sign-in component (Cognito).
	Auth Auth `yaml:"auth"`
	// Portal is the self-service dashboard for virtual machines, keys and costs.
	Portal Portal `yaml:"portal"`
	// Daskhub is JupyterHub and Dask Gateway on EKS.
	Daskhub Daskhub `yaml:"daskhub"`
	// Data is the S3 buckets: datasets, teams, shared and scratch.
	Data Data `yaml:"data"`
	// Registry keeps the datasets indexed in the CloudCatalog format.
	Registry Registry `yaml:"registry"`
	// Containers is the ECR repositories teams publish images to.
	Containers Containers `yaml:"containers"`

	// File is the instance file this configuration was loaded from.
	File string `yaml:"-"`
	// Warnings are risky but allowed choices, for the caller to print.
	Warnings Problems `yaml:"-"`
}

// Team is a group of researchers who share data and images.
type Team struct {
	// Description says what the team works on; shown in the portal.
	Description string `yaml:"description"`
}
