// Package modroot finds this project's folder (the one holding go.mod) from
// the working directory up: synth runs at the root, tests in package
// folders. It imports nothing of CDK, so CDK-free packages can use it.
package modroot

import (
	"errors"
	"os"
	"path/filepath"
)

// Dir returns the folder holding the project's go.mod.
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the project")
		}
		dir = parent
	}
}
