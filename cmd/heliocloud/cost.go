package main

import (
	"fmt"
	"io"

	"github.com/heliocloud/heliocloud-go/cost"
)

func init() {
	commands["cost"] = command{"price an instance file: its idle month, itemised, and what users' actions add", runCost}
}

// runCost is `heliocloud cost <instance-or-path>`. Its last line is
// exactly "idle: $<amount>/month", for scripts.
func runCost(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: heliocloud cost <instance-name-or-path>")
		return 2
	}
	cfg, ok := loadConfig(args[0], stderr)
	if !ok {
		return 1
	}
	if err := cost.Estimate(cfg).Write(stdout); err != nil {
		fmt.Fprintln(stderr, "heliocloud:", err)
		return 1
	}
	return 0
}
