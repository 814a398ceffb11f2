// Command heliocloud checks instance files and runs registry jobs without
// Node.js or CDK:
//
//	heliocloud validate [instance-or-path]   check a file, summarise the deployment
//	heliocloud cost <instance-or-path>       price its idle month and users' actions
//	heliocloud schema                        print the JSON Schema of instance files
//	heliocloud reference                     print the configuration reference (Markdown)
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/cost"
)

// command is one subcommand; files of this package add theirs in init funcs.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"validate":  {"check an instance file and summarise what would be deployed", runValidate},
	"schema":    {"print the JSON Schema of instance files (for editors)", runSchema},
	"reference": {"print the configuration reference in Markdown", runReference},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "heliocloud: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: heliocloud <command> [arguments]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintln(stderr, "usage: heliocloud validate [instance-name-or-path]")
		return 2
	}
	arg := "example"
	if len(args) == 1 {
		arg = args[0]
	}
	cfg, ok := loadConfig(arg, stderr)
	if !ok {
		return 1
	}
	fmt.Fprint(stdout, Summary(cfg))
	return 0
}

// loadConfig loads an instance by name or path, printing every problem (or
// the warnings of a valid file) to stderr; ok is false when it is unusable.
func loadConfig(arg string, stderr io.Writer) (cfg *config.Config, ok bool) {
	cfg, err := config.Load(config.Resolve(arg))
	var problems config.Problems
	if errors.As(err, &problems) {
		fmt.Fprintln(stderr, problems)
		return nil, false
	}
	if err != nil {
		fmt.Fprintln(stderr, "heliocloud:", err)
		return nil, false
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, w)
	}
	return cfg, true
}

// Summary says in a few lines what a deploy of cfg would create.
func Summary(cfg *config.Config) string {
	var b strings.Builder
	where := "the CDK CLI's account and region"
	if cfg.Account != "" || cfg.Region != "" {
		where = strings.Trim(cfg.Account+" "+cfg.Region, " ")
	}
	fmt.Fprintf(&b, "%s is valid: instance %q (%s) in %s\n", cfg.File, cfg.Name, cfg.Institution, where)
	fmt.Fprintln(&b, "stacks:")
	for _, comp := range cfg.EnabledComponents() {
		fmt.Fprintf(&b, "  %s-%s%s\n", cfg.Name, strings.ToUpper(comp[:1]), comp[1:])
	}
	if cfg.HubCostsExportStack() {
		fmt.Fprintf(&b, "  %s (in %s, for portal.hubCosts: run cdk bootstrap there too)\n", config.StackName(cfg.Name, config.HubCostsExportComponent), config.HubCostsExportRegion)
	}
	v := cfg.Base.VPC
	if v.Mode == "existing" {
		fmt.Fprintf(&b, "network: existing %s in %s\n", v.VpcID, strings.Join(v.AvailabilityZones, ", "))
	} else {
		fmt.Fprintf(&b, "network: new %s over %d zones, %s\n", v.Cidr, v.MaxAzs, v.NAT.Describe(v.MaxAzs))
	}
	if len(cfg.Teams) > 0 {
		names := make([]string, 0, len(cfg.Teams))
		for n := range cfg.Teams {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "teams: %s\n", strings.Join(names, ", "))
	}
	if bud := cfg.Base.Budget; bud.MonthlyLimitUsd > 0 {
		fmt.Fprintf(&b, "budget: $%.0f a month, alerts to %s\n", bud.MonthlyLimitUsd, strings.Join(bud.Emails, ", "))
	} else {
		fmt.Fprintln(&b, "budget: none (base.budget.monthlyLimitUsd is 0)")
	}
	est := cost.Estimate(cfg)
	fmt.Fprintf(&b, "idle cost: %s a month at %s on-demand list prices of %s (heliocloud cost %s itemises it)\n",
		cost.Dollars(est.Total()), est.Prices.Region, cost.PricesTaken, cfg.File)
	return b.String()
}

func runSchema(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: heliocloud schema > docs/heliocloud.schema.json")
		return 2
	}
	stdout.Write(config.Schema())
	return 0
}

func runReference(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: heliocloud reference > docs/configuration.md")
		return 2
	}
	io.WriteString(stdout, config.Reference())
	return 0
}
