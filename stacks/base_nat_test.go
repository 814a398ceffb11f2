package stacks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/internal/testtool"
)

// natInstanceYAML asks for a NAT instance in each of two zones.
const natInstanceYAML = `
name: t5
base:
  vpc: {cidr: 10.30.0.0/16, maxAzs: 2, nat: {type: instance, perAz: true}}
`

// A NAT instance per zone, as aws-cdk-lib 2.276.0's NatInstanceProviderV2
// makes it (node_modules/aws-cdk-lib/aws-ec2/lib/nat.js), with what the
// stack changes: the image from AWS's SSM parameter at deploy time,
// IMDSv2, an encrypted root volume, inbound traffic from the VPC only,
// Session Manager, standard CPU credits, our boot script.
func TestBaseNatInstancePerZone(t *testing.T) {
	tpl := synthYAML(t, natInstanceYAML, Options{Account: "111122223333", Region: "us-east-1"})["base"]
	if n := len(resources(tpl, "AWS::EC2::NatGateway")); n != 0 {
		t.Errorf("%d NAT gateways with NAT instances", n)
	}
	instances := resources(tpl, "AWS::EC2::Instance")
	if len(instances) != 2 {
		t.Fatalf("want a NAT instance in each of 2 zones, got %d", len(instances))
	}
	// Each instance keeps its outbound address through stops and
	// replacements: an Elastic IP names it, and the stack lists them all.
	eips := resources(tpl, "AWS::EC2::EIP")
	held := map[string]bool{}
	for id, e := range eips {
		ref, _ := props(e)["InstanceId"].(map[string]any)
		if _, ok := instances[fmt.Sprint(ref["Ref"])]; !ok || props(e)["Domain"] != "vpc" {
			t.Errorf("Elastic IP %s: %v", id, props(e))
		}
		held[fmt.Sprint(ref["Ref"])] = true
	}
	if len(eips) != 2 || len(held) != 2 {
		t.Errorf("%d Elastic IPs for %d of the 2 NAT instances", len(eips), len(held))
	}
	out := toJSON(t, (*tpl.ToJSON())["Outputs"].(map[string]any)["NatAddresses"])
	for id := range eips {
		if !strings.Contains(out, `{"Ref":"`+id+`"}`) {
			t.Errorf("output NatAddresses lacks %s: %s", id, out)
		}
	}
	params := (*tpl.ToJSON())["Parameters"].(map[string]any)
	subnetZone := map[string]string{}
	for id, s := range resources(tpl, "AWS::EC2::Subnet") {
		subnetZone[id] = props(s)["AvailabilityZone"].(string)
	}
	zones := map[string]string{} // instance id -> zone
	for id, r := range instances {
		p := props(r)
		for key, want := range map[string]string{
			"InstanceType":        `"t4g.nano"`,
			"SourceDestCheck":     `false`,
			"CreditSpecification": `{"CPUCredits":"standard"}`,
			"MetadataOptions":     `{"HttpEndpoint":"enabled","HttpPutResponseHopLimit":1,"HttpTokens":"required"}`,
			// /dev/xvda: the root device of AL2023 images, as DescribeImages
			// reports it (getmoto/moto@005945c0 moto/ec2/resources/latest_amis/us-east-1.json,
			// al2023-ami-2023.5.20240722.0-kernel-6.1-arm64).
			"BlockDeviceMappings": `[{"DeviceName":"/dev/xvda","Ebs":{"DeleteOnTermination":true,"Encrypted":true,"VolumeType":"gp3"}}]`,
		} {
			if got := toJSON(t, p[key]); got != want {
				t.Errorf("%s %s = %s, want %s", id, key, got, want)
			}
		}
		if _, ok := p["KeyName"]; ok {
			t.Errorf("%s has an SSH key pair; it is reached through Session Manager", id)
		}
		ref, _ := p["ImageId"].(map[string]any)["Ref"].(string)
		param, ok := params[ref].(map[string]any)
		if !ok || param["Type"] != "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>" || param["Default"] != natImageParameter {
			t.Errorf("%s ImageId = %v: want a Ref to the SSM parameter %s, got parameter %v", id, p["ImageId"], natImageParameter, param)
		}
		data := p["UserData"].(map[string]any)["Fn::Base64"]
		if data != natBootScript {
			t.Errorf("%s runs %.80q..., not natinstance.sh", id, data)
		}
		for _, tag := range p["Tags"].([]any) {
			if k := tag.(map[string]any)["Key"].(string); strings.HasPrefix(k, "kubernetes.io/") {
				t.Errorf("%s carries the subnet tag %s", id, k)
			}
		}
		zones[id] = subnetZone[p["SubnetId"].(map[string]any)["Ref"].(string)]
	}
	// Each private subnet goes out through the instance in its own zone.
	routes := 0
	for _, r := range resources(tpl, "AWS::EC2::Route") {
		target, ok := props(r)["InstanceId"].(map[string]any)
		if !ok {
			continue
		}
		routes++
		table := props(r)["RouteTableId"].(map[string]any)["Ref"].(string)
		assoc := ""
		for _, a := range resources(tpl, "AWS::EC2::SubnetRouteTableAssociation") {
			if props(a)["RouteTableId"].(map[string]any)["Ref"] == table {
				assoc = props(a)["SubnetId"].(map[string]any)["Ref"].(string)
			}
		}
		if got, want := zones[target["Ref"].(string)], subnetZone[assoc]; got == "" || got != want {
			t.Errorf("private subnet in %s routes to the NAT instance in %s", want, got)
		}
	}
	if routes != 2 {
		t.Errorf("want 2 private default routes to NAT instances, got %d", routes)
	}
	// Only the VPC may send traffic through the instances.
	groups := resources(tpl, "AWS::EC2::SecurityGroup")
	for id, g := range groups {
		if props(g)["GroupDescription"] != "Security Group for NAT instances" {
			continue
		}
		if got, want := toJSON(t, props(g)["SecurityGroupIngress"]), `[{"CidrIp":"10.30.0.0/16","Description":"Traffic from the VPC's subnets to forward to the internet","IpProtocol":"-1"}]`; got != want {
			t.Errorf("%s ingress = %s, want %s", id, got, want)
		}
	}
	if n := len(resources(tpl, "AWS::EC2::SecurityGroupIngress")); n != 0 {
		t.Errorf("%d extra ingress rules", n)
	}
	// Session Manager's agent may register; nothing else is granted.
	for id, pol := range resources(tpl, "AWS::IAM::Policy") {
		doc := toJSON(t, props(pol)["PolicyDocument"])
		if strings.Contains(id, "NatInstance") && !strings.Contains(doc, `"ssmmessages:OpenDataChannel"`) {
			t.Errorf("%s lacks the Session Manager agent's actions: %s", id, doc)
		}
	}
}

// The image is chosen at deploy time: the template names no image id, and
// synthesizing twice gives the same template.
func TestBaseNatInstanceImageIsResolvedAtDeploy(t *testing.T) {
	first := templateJSON(t, synthYAML(t, natInstanceYAML, Options{Account: "111122223333", Region: "us-east-1"})["base"])
	if ami := regexp.MustCompile(`ami-[0-9a-f]{8,17}`).FindString(first); ami != "" {
		t.Errorf("the template names the image %s", ami)
	}
	if !strings.Contains(first, natImageParameter) {
		t.Errorf("the template does not read %s", natImageParameter)
	}
	second := templateJSON(t, synthYAML(t, natInstanceYAML, Options{Account: "111122223333", Region: "us-east-1"})["base"])
	if first != second {
		t.Error("two synths of the same file differ")
	}
}

// One NAT instance for all zones: every private subnet routes to it.
func TestBaseOneNatInstanceForAllZones(t *testing.T) {
	tpl := synthYAML(t, `
name: t6
base:
  vpc: {maxAzs: 3, nat: {type: instance, instanceType: t4g.micro}}
`, Options{Region: "us-west-2"})["base"]
	instances := resources(tpl, "AWS::EC2::Instance")
	if len(instances) != 1 {
		t.Fatalf("want one NAT instance, got %d", len(instances))
	}
	var id string
	for i, r := range instances {
		id = i
		if got := props(r)["InstanceType"]; got != "t4g.micro" {
			t.Errorf("instance type %v, want t4g.micro", got)
		}
	}
	var targets []string
	for _, r := range resources(tpl, "AWS::EC2::Route") {
		if target, ok := props(r)["InstanceId"].(map[string]any); ok {
			targets = append(targets, target["Ref"].(string))
		}
	}
	if len(targets) != 3 || slices.ContainsFunc(targets, func(s string) bool { return s != id }) {
		t.Errorf("want the 3 private subnets routed to %s, got %v", id, targets)
	}
}

// natinstance.sh, run by bash with stand-ins for the system's commands:
// it turns on forwarding, adds swap, retries dnf, masquerades behind the
// default route's interface and saves the rules; it fails loudly when dnf
// never succeeds or there is no default route. What it cannot show is
// Amazon Linux itself: the packages and services are AL2023's.
func TestNatBootScript(t *testing.T) {
	bash := testtool.Need(t, "BASH", "bash")
	script := filepath.Join(t.TempDir(), "natinstance.sh")
	if err := os.WriteFile(script, []byte(natBootScript), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, dnfFailures int, defaultRoute string) (calls, stderr string, root string, err error) {
		root = t.TempDir()
		for _, d := range []string{"etc/sysctl.d", "etc/sysconfig", "bin"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		log := filepath.Join(root, "calls")
		stub := func(name, body string) {
			text := "#!/bin/bash\necho \"" + name + " $*\" >> " + log + "\n" + body + "\n"
			if err := os.WriteFile(filepath.Join(root, "bin", name), []byte(text), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"sysctl", "dd", "chmod", "mkswap", "swapon", "systemctl", "iptables", "sleep"} {
			stub(name, "")
		}
		stub("dnf", "n=$(grep -c '^dnf ' "+log+"); [ \"$n\" -gt "+strconv.Itoa(dnfFailures)+" ]")
		stub("ip", "printf '%s\\n' '"+defaultRoute+"'")
		stub("iptables-save", "echo '*nat'; echo '-A POSTROUTING -o ens5 -j MASQUERADE'")
		cmd := exec.Command(bash, script)
		cmd.Env = []string{"PATH=" + filepath.Join(root, "bin") + ":/usr/bin:/bin", "NAT_ROOT=" + root}
		var errb strings.Builder
		cmd.Stderr = &errb
		err = cmd.Run()
		b, _ := os.ReadFile(log)
		return string(b), errb.String(), root, err
	}
	read := func(t *testing.T, path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const route = "default via 10.30.0.1 dev ens5 proto dhcp src 10.30.0.12 metric 512"

	t.Run("configures forwarding and retries dnf", func(t *testing.T) {
		calls, stderr, root, err := run(t, 2, route)
		if err != nil {
			t.Fatalf("script failed: %v\n%s", err, stderr)
		}
		if got := read(t, filepath.Join(root, "etc/sysctl.d/90-heliocloud-nat.conf")); got != "net.ipv4.ip_forward = 1\n" {
			t.Errorf("sysctl file: %q", got)
		}
		if got := read(t, filepath.Join(root, "etc/fstab")); got != "/swapfile none swap defaults 0 0\n" {
			t.Errorf("fstab: %q", got)
		}
		if got := read(t, filepath.Join(root, "etc/sysconfig/iptables")); !strings.Contains(got, "MASQUERADE") {
			t.Errorf("saved rules: %q", got)
		}
		if n := strings.Count(calls, "dnf install -y -q iptables-services\n"); n != 3 {
			t.Errorf("dnf ran %d times, want 3 (two failures, then success)", n)
		}
		for _, want := range []string{
			"swapon " + root + "/swapfile\n",
			"systemctl enable --now iptables\n",
			"iptables -t nat -A POSTROUTING -o ens5 -j MASQUERADE\n",
			"iptables -F FORWARD\n",
		} {
			if !strings.Contains(calls, want) {
				t.Errorf("no call %q in:\n%s", want, calls)
			}
		}
		if i, j := strings.Index(calls, "systemctl enable"), strings.Index(calls, "iptables -F FORWARD"); i > j {
			t.Error("FORWARD flushed before the service loaded its stock rules, which would reject forwarding again")
		}
	})
	t.Run("gives up when dnf never works", func(t *testing.T) {
		calls, stderr, _, err := run(t, 1000, route)
		if err == nil || !strings.Contains(stderr, "failed 60 times") {
			t.Errorf("want failure after 60 tries, got err %v, stderr %q", err, stderr)
		}
		if strings.Contains(calls, "MASQUERADE") {
			t.Error("masqueraded without iptables-services")
		}
	})
	t.Run("fails without a default route", func(t *testing.T) {
		_, stderr, _, err := run(t, 0, "")
		if err == nil || !strings.Contains(stderr, "no default route") {
			t.Errorf("want failure, got err %v, stderr %q", err, stderr)
		}
	})
}
