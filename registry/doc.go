// Package registry keeps datasets indexed in the CloudCatalog format: it
// applies object-created and object-removed events incrementally, rebuilds
// indexes from a listing or an S3 Inventory report, and ingests uploads. The
// Lambda handler and the heliocloud command both call it; it imports no CDK.
package registry
