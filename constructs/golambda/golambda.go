// Package golambda builds a Go main package from this repository into an
// AWS Lambda function during synth: linux/arm64, provided.al2023, with a
// log group of its own and a role that may write only to that log group.
//
// The build is reproducible (-trimpath, no VCS stamp, no build id) and the
// package is a zip made here (executable `bootstrap`, fixed time), so the
// same source gives the same asset hash on every machine and deploys do not
// churn.
package golambda

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/heliocloud/heliocloud-go/internal/modroot"
)

// Props configures a Go Lambda function.
type Props struct {
	// Package is the main package to build, relative to the module root,
	// such as "./lambda/registry". Required.
	Package string
	// Description of the function. Default: none.
	Description string
	// Environment variables. Default: none.
	Environment map[string]string
	// MemoryMiB is the function's memory. Default: 256.
	MemoryMiB int
	// Timeout of one invocation. Default: 30 seconds.
	Timeout awscdk.Duration
	// LogRetention is how long the function's logs are kept. Default: three months.
	LogRetention awslogs.RetentionDays
	// ReservedConcurrency caps simultaneous invocations. Default: no cap.
	ReservedConcurrency int
}

// Function is a built Go Lambda function with its role and log group.
type Function struct {
	constructs.Construct
	// Function is the Lambda function.
	Function awslambda.Function
	// Role is the function's execution role; grant it what the code needs.
	Role awsiam.Role
	// LogGroup receives the function's logs.
	LogGroup awslogs.LogGroup
}

// New builds props.Package for linux/arm64 and wraps it in a function.
func New(scope constructs.Construct, id string, props *Props) *Function {
	c := constructs.NewConstruct(scope, jsii.String(id))
	zipPath, err := Build(props.Package)
	if err != nil {
		// A synth cannot go on without the code; the message says what failed.
		panic(err)
	}
	logRetention := props.LogRetention
	if logRetention == "" {
		logRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	logGroup := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("Runs %s; writes only its own log group", props.Package)),
	})
	logGroup.GrantWrite(role)
	memory := props.MemoryMiB
	if memory == 0 {
		memory = 256
	}
	timeout := props.Timeout
	if timeout == nil {
		timeout = awscdk.Duration_Seconds(jsii.Number(30))
	}
	env := map[string]*string{}
	for k, v := range props.Environment {
		env[k] = jsii.String(v)
	}
	fnProps := &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(zipPath), nil),
		MemorySize:   jsii.Number(memory),
		Timeout:      timeout,
		Role:         role,
		LogGroup:     logGroup,
		Environment:  &env,
	}
	if props.Description != "" {
		fnProps.Description = jsii.String(props.Description)
	}
	if props.ReservedConcurrency > 0 {
		fnProps.ReservedConcurrentExecutions = jsii.Number(props.ReservedConcurrency)
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), fnProps)
	return &Function{Construct: c, Function: fn, Role: role, LogGroup: logGroup}
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// zipTime is the modification time of every packaged file: fixed, so the
// same binary always gives the same zip, the same asset hash and no
// needless deploy. 1980-01-01 is the earliest time a zip entry can hold.
var zipTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// bootstrapMode is the packaged executable's mode. Lambda runs `bootstrap`
// as a program, so it must be executable; the mode is written into the zip
// here rather than taken from the file system, where it would follow the
// deployer's umask (0700 under umask 077) or, on Windows, lack the execute
// bit altogether. Being inside the zip, the mode is part of the asset hash.
const bootstrapMode fs.FileMode = 0o755

// Build compiles a main package of this module for Lambda and returns the
// path of a zip holding its `bootstrap`, mode 0755, with a fixed time. Each
// package is built once per process.
func Build(pkg string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if zipPath, ok := built[pkg]; ok {
		return zipPath, nil
	}
	root, err := modroot.Dir()
	if err != nil {
		return "", err
	}
	name := strings.Trim(strings.ReplaceAll(filepath.Clean(pkg), string(filepath.Separator), "-"), ".-")
	dir := filepath.Join(root, ".build", "lambda")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build and zip beside the target and rename: several synths (parallel
	// test packages) may build the same function at once, and a reader must
	// never hash a half-written zip.
	tmp := filepath.Join(dir, fmt.Sprintf(".%s-%d", name, os.Getpid()))
	defer os.Remove(tmp)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc",
		"-ldflags", "-s -w -buildid=", "-o", tmp, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building Lambda package %s: %v\n%s", pkg, err, out)
	}
	zipPath := filepath.Join(dir, name+".zip")
	if err := writeZip(tmp+".zip", tmp); err != nil {
		os.Remove(tmp + ".zip")
		return "", fmt.Errorf("packaging Lambda package %s: %w", pkg, err)
	}
	if err := os.Rename(tmp+".zip", zipPath); err != nil {
		return "", err
	}
	built[pkg] = zipPath
	return zipPath, nil
}

// writeZip writes a zip at path with one entry, `bootstrap`, holding the
// file binary, with bootstrapMode and zipTime whatever the file's own.
func writeZip(path, binary string) error {
	in, err := os.Open(binary)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	hdr.SetMode(bootstrapMode)
	w, err := zw.CreateHeader(hdr)
	if err == nil {
		_, err = io.Copy(w, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
