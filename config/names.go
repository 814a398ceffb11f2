package config

import "strings"

// StackName is the CloudFormation name of a component's stack,
// <instance>-<Component>: the stacks are named so, and the heliocloud
// tool finds them by it.
func StackName(instance, component string) string {
	return instance + "-" + strings.ToUpper(component[:1]) + component[1:]
}
