package values

import (
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/versions"
)

// userSchedulerLock is the lease the JupyterHub chart's user-scheduler
// elects its leader with (<fullname>-lock; the release has no fullname).
const userSchedulerLock = "user-scheduler-lock"

// UserSchedulerRBAC is a ClusterRole and its binding that give the
// JupyterHub chart's user-scheduler what the kube-scheduler of the
// cluster's version reads and writes beyond the chart's own role. Chart
// 4.4.0 grants what kube-scheduler 1.30 needed; later schedulers also
// watch leases and lease candidates, volume attachments and the
// resource.k8s.io (DRA) objects, and without those their caches never
// fill and no user server is ever scheduled. The rules follow Kubernetes'
// system:kube-scheduler role (plugin/pkg/auth/authorizer/rbac/bootstrappolicy
// /testdata/cluster-roles.yaml) from v1.31 to v1.36, as z2jh's main branch
// records them after 4.4.0 (commits 80bb6e47, 0ed86599).
func UserSchedulerRBAC(cfg *config.Config) []map[string]any {
	const name = "heliocloud-user-scheduler"
	read := []any{"get", "list", "watch"}
	readWrite := []any{"get", "list", "patch", "update", "watch"}
	rules := []any{
		rule("coordination.k8s.io", []any{"leases"}, []any{"list", "watch"}, userSchedulerLock),
		rule("coordination.k8s.io", []any{"leasecandidates"}, []any{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}, ""),
		rule("storage.k8s.io", []any{"volumeattachments"}, read, ""),
		rule("", []any{"pods/finalizers"}, []any{"update"}, ""),
		rule("resource.k8s.io", []any{"deviceclasses", "resourceslices"}, read, ""),
		rule("resource.k8s.io", []any{"resourceclaims", "resourceclaims/status"}, readWrite, ""),
	}
	if versions.Compare(cfg.Daskhub.KubernetesVersion, "1.36") >= 0 {
		rules = append(rules, rule("resource.k8s.io", []any{"resourceclaims/binding"}, []any{"patch", "update"}, ""))
	}
	return []map[string]any{
		{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
			"metadata": map[string]any{"name": name},
			"rules":    rules,
		},
		{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
			"metadata": map[string]any{"name": name},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": UserSchedulerServiceAccount, "namespace": cfg.Daskhub.Namespace}},
		},
	}
}

func rule(group string, resources, verbs []any, resourceName string) map[string]any {
	r := map[string]any{"apiGroups": []any{group}, "resources": resources, "verbs": verbs}
	if resourceName != "" {
		r["resourceNames"] = []any{resourceName}
	}
	return r
}
