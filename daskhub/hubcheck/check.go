package hubcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Workload is a Deployment or DaemonSet that must be available.
type Workload struct {
	// Component is what an admin calls it, such as "hub" or "cluster autoscaler".
	Component string `json:"component"`
	// Kind is Deployment or DaemonSet.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Endpoint is an HTTP API that must answer through a Service, reached
// through the API server's service proxy, as a pod in the cluster reaches it.
type Endpoint struct {
	// Component is what an admin calls it, such as "hub API".
	Component string `json:"component"`
	// Address is how clients in the cluster name the API, such as
	// http://proxy-public/services/dask-gateway; shown in messages.
	Address   string `json:"address"`
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	// Port is the Service's port; 0 means its port named http, or else its first.
	Port int32 `json:"port"`
	// Path is requested on the Service, such as /hub/api/.
	Path string `json:"path"`
	// Want is a JSON field of a good answer and its value ("" for any value).
	WantField string `json:"wantField"`
	WantValue string `json:"wantValue"`
}

// EndpointAt makes the Endpoint for an address such as
// http://proxy-public/services/dask-gateway or http://svc.ns:8000/x, as a
// pod in namespace would resolve it, with path appended.
func EndpointAt(component, address, namespace, path string) (Endpoint, error) {
	u, err := url.Parse(address)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s address %q: %w", component, address, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Endpoint{}, fmt.Errorf("%s address %q: not an http(s) URL", component, address)
	}
	host := strings.Split(u.Hostname(), ".")
	e := Endpoint{Component: component, Address: address, Namespace: namespace, Service: host[0],
		Path: strings.TrimSuffix(u.EscapedPath(), "/") + path}
	if len(host) > 1 {
		e.Namespace = host[1]
	}
	switch {
	case u.Port() != "":
		p, err := strconv.ParseInt(u.Port(), 10, 32)
		if err != nil {
			return Endpoint{}, fmt.Errorf("%s address %q: port: %w", component, address, err)
		}
		e.Port = int32(p)
	case u.Scheme == "https":
		e.Port = 443
	default:
		e.Port = 80
	}
	return e, nil
}

// Spec is what a working DaskHub has.
type Spec struct {
	Workloads []Workload `json:"workloads"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Problem is one component that does not work.
type Problem struct {
	Component string
	// Detail says what is wrong: the workload's and its pods' states, the
	// API's answer, with the last log lines of a failing container.
	Detail string
	// Final is set when waiting longer will not help (a container that
	// keeps crashing, an image name that cannot be pulled).
	Final bool
}

func (p Problem) String() string { return p.Component + ": " + p.Detail }

// Options tune how much a report says.
type Options struct {
	// LogLines is how many of a failing container's last log lines to show.
	LogLines int
	// CrashLoops is the number of restarts after which a crash loop is final.
	CrashLoops int32
}

func (o Options) withDefaults() Options {
	if o.LogLines == 0 {
		o.LogLines = 5
	}
	if o.CrashLoops == 0 {
		o.CrashLoops = 3
	}
	return o
}

// Check looks once at every workload and endpoint and returns what is wrong.
func Check(ctx context.Context, c *Client, spec Spec, opt Options) []Problem {
	opt = opt.withDefaults()
	var out []Problem
	for _, w := range spec.Workloads {
		if p, bad := checkWorkload(ctx, c, w, opt); bad {
			out = append(out, p)
		}
	}
	for _, e := range spec.Endpoints {
		if p, bad := checkEndpoint(ctx, c, e); bad {
			out = append(out, p)
		}
	}
	return out
}

// Wait checks every interval until nothing is wrong, a problem is final, or
// ctx is done; it returns the problems of the last whole look (a look cut
// short by ctx would blame the deadline instead of the hub).
func Wait(ctx context.Context, c *Client, spec Spec, opt Options, interval time.Duration) []Problem {
	var last []Problem
	for {
		problems := Check(ctx, c, spec, opt)
		if ctx.Err() != nil && last != nil {
			return last
		}
		if len(problems) == 0 || slices.ContainsFunc(problems, func(p Problem) bool { return p.Final }) {
			return problems
		}
		last = problems
		select {
		case <-ctx.Done():
			return problems
		case <-time.After(interval):
		}
	}
}

func checkWorkload(ctx context.Context, c *Client, w Workload, opt Options) (Problem, bool) {
	label := w.Component + " (" + w.Kind + " " + w.Namespace + "/" + w.Name + ")"
	var (
		sel     selector
		summary string
		conds   []condition
	)
	switch w.Kind {
	case "Deployment":
		var d deployment
		if err := c.getJSON(ctx, "/apis/apps/v1/namespaces/"+w.Namespace+"/deployments/"+w.Name, nil, &d); err != nil {
			return Problem{Component: label, Detail: missing(err)}, true
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ObservedGeneration >= d.Metadata.Generation && d.Status.UpdatedReplicas >= want && d.Status.AvailableReplicas >= want {
			return Problem{}, false
		}
		sel, conds = d.Spec.Selector, d.Status.Conditions
		summary = fmt.Sprintf("%d of %d replicas available (%d updated)", d.Status.AvailableReplicas, want, d.Status.UpdatedReplicas)
	case "DaemonSet":
		var ds daemonSet
		if err := c.getJSON(ctx, "/apis/apps/v1/namespaces/"+w.Namespace+"/daemonsets/"+w.Name, nil, &ds); err != nil {
			return Problem{Component: label, Detail: missing(err)}, true
		}
		st := ds.Status
		if st.ObservedGeneration >= ds.Metadata.Generation && st.UpdatedNumberScheduled >= st.DesiredNumberScheduled && st.NumberAvailable >= st.DesiredNumberScheduled {
			return Problem{}, false
		}
		sel = ds.Spec.Selector
		summary = fmt.Sprintf("%d of %d pods available (%d updated)", st.NumberAvailable, st.DesiredNumberScheduled, st.UpdatedNumberScheduled)
	default:
		return Problem{Component: label, Detail: "unknown kind " + w.Kind + " (want Deployment or DaemonSet)", Final: true}, true
	}
	p := Problem{Component: label, Detail: summary}
	details, final := podStates(ctx, c, w.Namespace, sel, opt)
	if len(details) == 0 {
		// No pod to blame: the controller's conditions say why (quota,
		// admission, a replica set that cannot be made).
		for _, cd := range conds {
			if cd.Status != "True" || cd.Type == "ReplicaFailure" {
				details = append(details, cd.Type+"="+cd.Status+" "+cd.Reason+": "+cd.Message)
			}
		}
	}
	if len(details) > 0 {
		p.Detail += "; " + strings.Join(details, "; ")
	}
	p.Final = final
	return p, true
}

// missing words a failed GET of a workload.
func missing(err error) string {
	if isNotFound(err) {
		return "not found (was its Helm release installed?)"
	}
	return "cannot be read: " + err.Error()
}

// podStates describes the pods of sel that are not ready, the worst first,
// with the last log lines of a container that failed.
func podStates(ctx context.Context, c *Client, namespace string, sel selector, opt Options) ([]string, bool) {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(sel.MatchLabels)) {
		parts = append(parts, k+"="+sel.MatchLabels[k])
	}
	var pods podList
	if err := c.getJSON(ctx, "/api/v1/namespaces/"+namespace+"/pods", url.Values{"labelSelector": {strings.Join(parts, ",")}}, &pods); err != nil {
		return []string{"its pods cannot be listed: " + err.Error()}, false
	}
	var out []string
	final := false
	shown := 0
	for _, p := range pods.Items {
		state, failing, isFinal := describePod(p, opt)
		if state == "" {
			continue
		}
		// Two pods say enough; a report must fit CloudFormation's 4 KB.
		if shown == 2 {
			out = append(out, "and more pods not ready")
			break
		}
		shown++
		if failing != "" {
			state += lastLogs(ctx, c, namespace, p.Metadata.Name, failing, opt.LogLines)
		}
		out = append(out, "pod "+p.Metadata.Name+" "+state)
		final = final || isFinal
	}
	return out, final
}

// describePod says why a pod is not ready ("" when it is), which container's
// logs explain it, and whether the state is final.
func describePod(p pod, opt Options) (state, failing string, final bool) {
	st := p.Status
	if st.Phase == "Pending" {
		for _, cd := range st.Conditions {
			if cd.Type == "PodScheduled" && cd.Status == "False" {
				// The scheduler's message lists why each node was refused.
				return "Pending: " + cd.Reason + ": " + cd.Message, "", false
			}
		}
	}
	groups := []struct {
		kind     string
		statuses []containerStatus
	}{{"init container", st.InitContainerStatuses}, {"container", st.ContainerStatuses}}
	for _, g := range groups {
		for _, cs := range g.statuses {
			if cs.Ready || (cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0) {
				continue
			}
			s := fmt.Sprintf("%s: %s %s", st.Phase, g.kind, cs.Name)
			switch {
			case cs.State.Waiting != nil:
				w := cs.State.Waiting
				s += " " + w.Reason
				if w.Message != "" {
					s += " (" + clip(w.Message, 300) + ")"
				}
				switch w.Reason {
				case "CrashLoopBackOff":
					final = cs.RestartCount >= opt.CrashLoops
				case "InvalidImageName", "CreateContainerConfigError", "ErrImageNeverPull":
					final = true
				}
			case cs.State.Terminated != nil:
				s += fmt.Sprintf(" exited %d (%s)", cs.State.Terminated.ExitCode, cs.State.Terminated.Reason)
			case cs.State.Running != nil:
				s += " running, not ready"
			}
			if cs.RestartCount > 0 {
				s += fmt.Sprintf(", %d restarts", cs.RestartCount)
				if t := cs.LastState.Terminated; t != nil {
					s += fmt.Sprintf(", last exit %d (%s)", t.ExitCode, t.Reason)
				}
			}
			// A container that has run has logs that may say why it failed.
			if cs.RestartCount > 0 || cs.State.Terminated != nil || cs.State.Running != nil {
				failing = cs.Name
			}
			return s, failing, final
		}
	}
	if st.Phase != "Running" && st.Phase != "Succeeded" {
		return st.Phase + ": " + st.Reason + " " + st.Message, "", false
	}
	for _, cd := range st.Conditions {
		if cd.Type == "Ready" && cd.Status != "True" {
			return "not ready: " + cd.Reason + " " + cd.Message, "", false
		}
	}
	return "", "", false
}

// lastLogs is the last lines of a container, of its previous run if it
// crashed (the current run may not have logged yet).
func lastLogs(ctx context.Context, c *Client, namespace, pod, container string, lines int) string {
	path := "/api/v1/namespaces/" + namespace + "/pods/" + pod + "/log"
	q := url.Values{"container": {container}, "tailLines": {strconv.Itoa(lines)}}
	prev := url.Values{"previous": {"true"}}
	maps.Copy(prev, q)
	body, err := c.do(ctx, "GET", path, prev)
	if err != nil {
		body, err = c.do(ctx, "GET", path, q)
	}
	if err != nil || len(strings.TrimSpace(string(body))) == 0 {
		return ""
	}
	var ls []string
	for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		ls = append(ls, clip(strings.TrimSpace(l), 200))
	}
	return "; last log lines: " + strings.Join(ls, " | ")
}

func checkEndpoint(ctx context.Context, c *Client, e Endpoint) (Problem, bool) {
	label := e.Component + " (" + e.Address + ")"
	var svc service
	if err := c.getJSON(ctx, "/api/v1/namespaces/"+e.Namespace+"/services/"+e.Service, nil, &svc); err != nil {
		return Problem{Component: label, Detail: "Service " + e.Namespace + "/" + e.Service + " " + missing(err)}, true
	}
	port := e.Port
	var ports []string
	found := false
	for _, p := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s/%d", p.Name, p.Port))
		if p.Port == e.Port || (e.Port == 0 && (p.Name == "http" || port == 0)) {
			found = true
			if e.Port == 0 {
				port = p.Port
			}
		}
	}
	if !found {
		// Clients of this address would be refused: the wrong port is a
		// configuration mistake, not something to wait for.
		return Problem{Component: label, Final: true,
			Detail: fmt.Sprintf("Service %s/%s has no port %d (its ports: %s)", e.Namespace, e.Service, e.Port, strings.Join(ports, ", "))}, true
	}
	path := fmt.Sprintf("/api/v1/namespaces/%s/services/http:%s:%d/proxy%s", e.Namespace, e.Service, port, e.Path)
	body, err := c.do(ctx, "GET", path, nil)
	if err != nil {
		return Problem{Component: label, Detail: fmt.Sprintf("GET %s on port %d answered %v", e.Path, port, err)}, true
	}
	if e.WantField == "" {
		return Problem{}, false
	}
	var got map[string]any
	if json.Unmarshal(body, &got) != nil {
		return Problem{Component: label, Detail: fmt.Sprintf("GET %s on port %d answered something other than JSON: %s", e.Path, port, clip(string(body), 200))}, true
	}
	v, ok := got[e.WantField]
	if !ok || (e.WantValue != "" && fmt.Sprint(v) != e.WantValue) {
		return Problem{Component: label, Detail: fmt.Sprintf("GET %s on port %d answered %s, want %q=%q", e.Path, port, clip(string(body), 200), e.WantField, e.WantValue)}, true
	}
	return Problem{}, false
}

// Report words problems for CloudFormation, whose status reason holds a
// few kilobytes: whole problems while they fit, then the count of the rest.
func Report(problems []Problem, limit int) string {
	var lines []string
	size := 0
	for i, p := range problems {
		line := p.String()
		if i == 0 {
			line = clip(line, limit)
		} else if size+len(line)+1 > limit {
			lines = append(lines, fmt.Sprintf("(and %d more: see the check's log group)", len(problems)-i))
			break
		}
		lines = append(lines, line)
		size += len(line) + 1
	}
	return strings.Join(lines, "\n")
}
