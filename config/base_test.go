package config

import (
	"reflect"
	"strings"
	"testing"
)

// One fixture per NAT mistake, with the line, key path and message.
func TestNATErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown type", "name: x\nbase:\n  vpc:\n    nat: {type: instances}\n",
			`test.yaml:4: error: base.vpc.nat.type: "instances" is not allowed (did you mean "instance"?); allowed values: gateway, instance, none`},
		{"x86 or unlisted instance type", "name: x\nbase:\n  vpc:\n    nat: {type: instance, instanceType: t3.nano}\n",
			`test.yaml:4: error: base.vpc.nat.instanceType: "t3.nano" is not allowed (did you mean "t4g.nano"?); allowed values: t4g.nano, t4g.micro, t4g.small, t4g.medium, t4g.large, t4g.xlarge`},
		{"instance type for a gateway", "name: x\nbase:\n  vpc:\n    nat:\n      type: gateway\n      instanceType: t4g.micro\n",
			`test.yaml:6: error: base.vpc.nat.instanceType: only applies with type: instance`},
		{"instance type by default type", "name: x\nbase:\n  vpc:\n    nat: {instanceType: t4g.micro}\n",
			`base.vpc.nat.instanceType: only applies with type: instance`},
		{"perAz without NAT", "name: x\nbase:\n  vpc:\n    nat:\n      type: none\n      perAz: true\n",
			`test.yaml:6: error: base.vpc.nat.perAz: only applies with type: gateway or instance (type: none places no NAT)`},
		{"NAT instance in an existing VPC", "name: x\nbase:\n  vpc:\n    mode: existing\n    vpcId: vpc-0123456789abcdef0\n    availabilityZones: [us-east-1a]\n    privateSubnetIds: [subnet-0123456789abcdef0]\n    nat: {type: instance}\n",
			`test.yaml:8: error: base.vpc.nat: only applies with mode: new (an existing VPC is used as it is)`},
		{"old and new spelling", "name: x\nbase:\n  vpc:\n    natGateways: one\n    nat: {type: instance}\n",
			`test.yaml:4: error: base.vpc.natGateways: is the old spelling of nat: give one of them, not both`},
		{"old spelling misspelt", "name: x\nbase:\n  vpc:\n    natGateways: two\n",
			`test.yaml:4: error: base.vpc.natGateways: "two" is not allowed; allowed values: none, one, perAz`},
		{"daskhub without NAT", "name: x\nauth: {enabled: true}\nbase:\n  vpc:\n    nat: {type: none}\ndaskhub:\n  enabled: true\n  endpoint: {publicCidrs: [192.0.2.0/24]}\n",
			`test.yaml:5: error: base.vpc.nat.type: daskhub needs a way out of the private subnets (nodes pull images and join EKS over the internet): set nat: {type: gateway} or {type: instance}`},
		{"portal without NAT", portalYAML("") + "base:\n  vpc:\n    nat:\n      type: none\n",
			`test.yaml:11: error: base.vpc.nat.type: the portal's machines need a way out of the private subnets (users reach them through Session Manager`},
		{"portal without NAT, old spelling", portalYAML("") + "base:\n  vpc:\n    natGateways: none\n",
			`test.yaml:10: error: base.vpc.natGateways: the portal's machines need a way out`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.yaml, tt.want) })
	}
}

// One fixture per log setting of base and auth.
func TestLogSettingErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"flow log traffic", "name: x\nbase:\n  vpc:\n    flowLogTraffic: accepted\n",
			`test.yaml:4: error: base.vpc.flowLogTraffic: "accepted" is not allowed; allowed values: all, reject`},
		{"flow log keys without flow logs", "name: x\nbase:\n  vpc:\n    flowLogs: false\n    flowLogTraffic: reject\n",
			`test.yaml:5: error: base.vpc.flowLogTraffic: only applies with flowLogs: true`},
		{"flow log keys on an existing VPC", "name: x\nbase:\n  vpc:\n    mode: existing\n    vpcId: vpc-0123456789abcdef0\n    availabilityZones: [us-east-1a]\n    privateSubnetIds: [subnet-0123456789abcdef0]\n    flowLogTraffic: reject\n",
			`test.yaml:8: error: base.vpc.flowLogTraffic: only applies with mode: new`},
		{"deploy log retention", "name: x\nbase:\n  deployLogRetentionDays: 10\n",
			`test.yaml:3: error: base.deployLogRetentionDays: 10 is not a CloudWatch retention period; allowed: 1, 3, 5, 7, 14, 30`},
		{"auth log retention", "name: x\nauth:\n  enabled: true\n  logRetentionDays: 0\n",
			`test.yaml:4: error: auth.logRetentionDays: 0 is not a CloudWatch retention period; allowed: 1, 3, 5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.yaml, tt.want) })
	}
}

// natGateways, the old key, means what its documentation says, with a
// warning that names the new spelling.
func TestNatGatewaysIsTheOldSpellingOfNAT(t *testing.T) {
	for old, want := range map[string]NAT{
		"none":  {Type: "none", InstanceType: "t4g.nano"},
		"one":   {Type: "gateway", InstanceType: "t4g.nano"},
		"perAz": {Type: "gateway", PerAz: true, InstanceType: "t4g.nano"},
	} {
		cfg := mustLoad(t, "name: x\nbase:\n  vpc:\n    maxAzs: 3\n    natGateways: "+old+"\n")
		if got := cfg.Base.VPC.NAT; !reflect.DeepEqual(got, want) {
			t.Errorf("natGateways: %s gives %+v, want %+v", old, got, want)
		}
		if w := warningsText(cfg); !strings.Contains(w, "test.yaml:5: warning: base.vpc.natGateways: is the old spelling of nat; natGateways: "+old+" still works") {
			t.Errorf("natGateways: %s: warnings %q", old, w)
		}
	}
	cfg := mustLoad(t, "name: x\n")
	if got, want := cfg.Base.VPC.NAT, (NAT{Type: "gateway", InstanceType: "t4g.nano"}); got != want {
		t.Errorf("default NAT %+v, want %+v (one gateway, as natGateways' default was)", got, want)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings without natGateways: %v", cfg.Warnings)
	}
}

func TestNATCountAndDescription(t *testing.T) {
	for _, tt := range []struct {
		nat   NAT
		count int
		text  string
	}{
		{NAT{Type: "none", PerAz: true}, 0, "no NAT (private subnets reach only VPC endpoints)"},
		{NAT{Type: "gateway"}, 1, "1 NAT gateway"},
		{NAT{Type: "gateway", PerAz: true}, 3, "3 NAT gateways"},
		{NAT{Type: "instance", InstanceType: "t4g.nano"}, 1, "1 NAT instance (t4g.nano)"},
		{NAT{Type: "instance", PerAz: true, InstanceType: "t4g.small"}, 3, "3 NAT instances (t4g.small)"},
	} {
		if got := tt.nat.Count(3); got != tt.count {
			t.Errorf("%+v.Count(3) = %d, want %d", tt.nat, got, tt.count)
		}
		if got := tt.nat.Describe(3); got != tt.text {
			t.Errorf("%+v.Describe(3) = %q, want %q", tt.nat, got, tt.text)
		}
	}
}

// Every NAT instance type is a Graviton type of the instance-type table,
// which holds its price: the boot image is arm64.
func TestNATInstanceTypesAreKnownArm64Types(t *testing.T) {
	f, _ := reflect.TypeOf(NAT{}).FieldByName("InstanceType")
	for _, name := range strings.Split(f.Tag.Get("enum"), ",") {
		it, ok := InstanceTypes[name]
		if !ok || !it.Arm64 {
			t.Errorf("%s: in the table %v, arm64 %v; want both", name, ok, it.Arm64)
		}
	}
}
