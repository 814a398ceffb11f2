package cost

import (
	"github.com/heliocloud/heliocloud-go/config"
)

// PricesTaken is the date the prices below were taken from AWS's public
// price pages. Prices change: re-check them against
// https://aws.amazon.com/pricing/ (or the Price List API) before relying on a
// figure, and move this date when you do.
const PricesTaken = "2026-12-02"

// HoursPerMonth is the month AWS's price pages and calculator use.
const HoursPerMonth = 730

// Prices are on-demand list prices in US dollars in one region, without
// free tiers, savings plans or reserved capacity: what a new account pays.
type Prices struct {
	// Region the prices are for.
	Region string
	// Approximate marks a table whose figures were not all read from the
	// price pages on PricesTaken (GovCloud's): each figure is close, not exact.
	Approximate bool

	// EKSClusterHour is one EKS cluster on standard support.
	EKSClusterHour float64
	// NATGatewayHour and NATGatewayGB are a NAT gateway's hours and the data
	// it processes.
	NATGatewayHour, NATGatewayGB float64
	// PublicIPv4Hour is one public IPv4 address, in use or not: an Elastic
	// IP, a NAT gateway's, a load balancer's per zone, an instance's.
	PublicIPv4Hour float64
	// NLBHour and NLBLCUHour are a Network Load Balancer and its capacity
	// units (an idle one uses next to none).
	NLBHour, NLBLCUHour float64
	// ALBHour and ALBLCUHour are an Application Load Balancer and its
	// capacity units.
	ALBHour, ALBLCUHour float64
	// CLBHour and CLBGB are a Classic Load Balancer and the data it carries.
	CLBHour, CLBGB float64
	// InterfaceEndpointAZHour and InterfaceEndpointGB are an interface VPC
	// endpoint in one zone and the data through it.
	InterfaceEndpointAZHour, InterfaceEndpointGB float64
	// EBSgp3GBMonth is a gp3 volume's storage (its baseline 3000 IOPS and
	// 125 MB/s are free).
	EBSgp3GBMonth float64
	// EFSStandardGBMonth and EFSInfrequentGBMonth are EFS storage classes;
	// EFSReadGB and EFSWriteGB its elastic throughput; EFSBackupGBMonth the
	// warm AWS Backup copies automatic backups keep.
	EFSStandardGBMonth, EFSInfrequentGBMonth, EFSReadGB, EFSWriteGB, EFSBackupGBMonth float64
	// S3StandardGBMonth is S3 Standard storage.
	S3StandardGBMonth float64
	// ECRGBMonth is container image storage.
	ECRGBMonth float64
	// DataOutGB is data sent from AWS to the internet (after the first 100 GB).
	DataOutGB float64
	// KMSKeyMonth is one customer managed key in its first year: each of the
	// first two yearly rotations adds as much again (a rotated key costs
	// three times this from its third year), later rotations nothing.
	KMSKeyMonth float64
	// LogsIngestGB is CloudWatch Logs' standard ingestion; VendedLogsGB the
	// first tier of vended logs (VPC flow logs); LogsStorageGBMonth the
	// compressed storage.
	LogsIngestGB, VendedLogsGB, LogsStorageGBMonth float64
	// AlarmMonth is one standard-resolution CloudWatch metric alarm.
	AlarmMonth float64
	// SecretMonth is one Secrets Manager secret.
	SecretMonth float64
	// SQSMillion is a million SQS standard-queue requests.
	SQSMillion float64
	// CostExplorerRequest is one Cost Explorer API request.
	CostExplorerRequest float64
	// AthenaTB is a TB scanned by an Athena SQL query, billed at least
	// 10 MB a query.
	AthenaTB float64
	// CognitoPlusMAU and CognitoEssentialsMAU are a monthly active user of
	// a user pool on each feature plan (Essentials' first 10,000 a month are
	// free outside GovCloud; Plus has no free tier).
	CognitoPlusMAU, CognitoEssentialsMAU float64
	// InstanceFactor turns config.InstanceTypes' us-east-1 prices into this
	// region's: 1 where they are the same.
	InstanceFactor float64
}

// usEast1 are us-east-1's list prices on PricesTaken.
var usEast1 = Prices{
	Region:                  "us-east-1",
	EKSClusterHour:          0.10,
	NATGatewayHour:          0.045,
	NATGatewayGB:            0.045,
	PublicIPv4Hour:          0.005,
	NLBHour:                 0.0225,
	NLBLCUHour:              0.006,
	ALBHour:                 0.0225,
	ALBLCUHour:              0.008,
	CLBHour:                 0.025,
	CLBGB:                   0.008,
	InterfaceEndpointAZHour: 0.01,
	InterfaceEndpointGB:     0.01,
	EBSgp3GBMonth:           0.08,
	EFSStandardGBMonth:      0.30,
	EFSInfrequentGBMonth:    0.016,
	EFSReadGB:               0.03,
	EFSWriteGB:              0.06,
	EFSBackupGBMonth:        0.05,
	S3StandardGBMonth:       0.023,
	ECRGBMonth:              0.10,
	DataOutGB:               0.09,
	KMSKeyMonth:             1.00,
	LogsIngestGB:            0.50,
	VendedLogsGB:            0.50,
	LogsStorageGBMonth:      0.03,
	AlarmMonth:              0.10,
	SecretMonth:             0.40,
	SQSMillion:              0.40,
	CostExplorerRequest:     0.01,
	AthenaTB:                5.00,
	CognitoPlusMAU:          0.02,
	CognitoEssentialsMAU:    0.015,
	InstanceFactor:          1,
}

// govCloud are us-gov-west-1's prices. They were not all at hand on
// PricesTaken: figures are close (GovCloud runs about a fifth to a quarter
// above us-east-1 for compute, storage and networking; EKS, KMS and public
// IPv4 cost the same), hence Approximate.
var govCloud = Prices{
	Region:                  "us-gov-west-1",
	Approximate:             true,
	EKSClusterHour:          0.10,
	NATGatewayHour:          0.054,
	NATGatewayGB:            0.054,
	PublicIPv4Hour:          0.005,
	NLBHour:                 0.027,
	NLBLCUHour:              0.0072,
	ALBHour:                 0.027,
	ALBLCUHour:              0.0096,
	CLBHour:                 0.03,
	CLBGB:                   0.0096,
	InterfaceEndpointAZHour: 0.012,
	InterfaceEndpointGB:     0.012,
	EBSgp3GBMonth:           0.096,
	EFSStandardGBMonth:      0.36,
	EFSInfrequentGBMonth:    0.0192,
	EFSReadGB:               0.036,
	EFSWriteGB:              0.072,
	EFSBackupGBMonth:        0.06,
	S3StandardGBMonth:       0.039,
	ECRGBMonth:              0.10,
	DataOutGB:               0.155,
	KMSKeyMonth:             1.00,
	LogsIngestGB:            0.60,
	VendedLogsGB:            0.60,
	LogsStorageGBMonth:      0.036,
	AlarmMonth:              0.10,
	SecretMonth:             0.40,
	SQSMillion:              0.50,
	CostExplorerRequest:     0.01,
	AthenaTB:                5.00,
	CognitoPlusMAU:          0.02,
	CognitoEssentialsMAU:    0.015,
	InstanceFactor:          1.26,
}

// regions holds the regions whose prices are known. us-west-2's list
// prices equal us-east-1's for every item here; us-gov-east-1 is priced as
// us-gov-west-1.
var regions = map[string]Prices{
	"us-east-1":     usEast1,
	"us-west-2":     withRegion(usEast1, "us-west-2"),
	"us-gov-west-1": govCloud,
	"us-gov-east-1": withRegion(govCloud, "us-gov-east-1"),
}

func withRegion(p Prices, region string) Prices {
	p.Region = region
	return p
}

// PriceTable gives the prices for region and, when they are not that
// region's own, a note saying which were used instead. An instance without
// a region, or in a region the table lacks, is priced as us-east-1, where
// prices are among the lowest: elsewhere expect up to a third more.
func PriceTable(region string) (p Prices, note string) {
	if p, ok := regions[region]; ok {
		if p.Approximate {
			return p, "prices for " + region + " are approximate (GovCloud's were estimated from us-east-1's; re-check them)"
		}
		if p.Region != region {
			return p, "prices for " + region + " are " + p.Region + "'s"
		}
		return p, ""
	}
	if region == "" {
		return usEast1, "the instance names no region: priced as us-east-1"
	}
	return usEast1, "no price table for " + region + ": priced as us-east-1 (most regions cost the same to a third more)"
}

// InstanceHour is the on-demand Linux price of an instance type in p's
// region, from config.InstanceTypes; ok is false for a type the table lacks.
func (p Prices) InstanceHour(instanceType string) (usd float64, ok bool) {
	it, ok := config.InstanceTypes[instanceType]
	if !ok {
		return 0, false
	}
	return it.PriceUSDPerHour * p.InstanceFactor, true
}

// Assumed are the volumes an idle instance produces that the instance file
// cannot tell: estimates for an instance nobody uses, with one to three
// idle nodes, not measurements of a HelioCloud deployment. docs/cost.md
// says how to measure them on a deployed instance.
var Assumed = Assumptions{
	FlowLogsGBMonth: 1,
	// Refused traffic of an idle VPC is mostly the internet's scans of its
	// public addresses (NAT, load balancer).
	FlowLogsRejectGBMonth: 0.2,
	// An idle cluster's audit log is mostly lease renewals and node
	// heartbeats of the controllers that run on it; the other types log
	// far less.
	ControlPlaneLogGBMonth: map[string]float64{
		"api":               1,
		"audit":             20,
		"authenticator":     0.2,
		"controllerManager": 0.5,
		"scheduler":         0.1,
	},
	StoredPerIngested: 0.15,
	// JupyterHub chart 4.4.0's hub.db.pvc.storage (jupyterhub/values.yaml),
	// which the stack does not change.
	HubDatabaseGiB: 1,
	// Lambda's SQS event source keeps five long polls of 20 s open.
	SQSPollsMonth: 5 * 3 * 60 * HoursPerMonth,
}

// Assumptions are the estimated idle volumes Estimate and the template
// cross-check both use.
type Assumptions struct {
	// FlowLogsGBMonth is what VPC flow logs of all traffic record in an idle
	// VPC (NAT, nodes, load balancer health checks).
	FlowLogsGBMonth float64
	// FlowLogsRejectGBMonth is what they record of refused traffic only.
	FlowLogsRejectGBMonth float64
	// ControlPlaneLogGBMonth is what each EKS control-plane log type writes
	// in a month on an idle cluster, by EKS's type name.
	ControlPlaneLogGBMonth map[string]float64
	// StoredPerIngested is CloudWatch Logs' compressed size per ingested GB.
	StoredPerIngested float64
	// HubDatabaseGiB is the hub's database volume (EBS gp3).
	HubDatabaseGiB float64
	// SQSPollsMonth is the requests an SQS event source makes on an empty
	// queue in a month.
	SQSPollsMonth float64
}

// StoredGB is what a log group receiving gbMonth a month and keeping it
// retentionDays holds, compressed, once it is a full retention period old
// (its steady state, which storage is priced at).
func StoredGB(gbMonth float64, retentionDays int) float64 {
	return gbMonth * float64(retentionDays) / (HoursPerMonth / 24.0) * Assumed.StoredPerIngested
}
