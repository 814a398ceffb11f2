package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	ptypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Prices change a few times a year; a day's cache keeps the launch page
// fast without showing stale numbers for long.
const priceTTL = 24 * time.Hour

// errPriceUnknown means the Price List API has no on-demand Linux price for
// the type in this region.
var errPriceUnknown = errors.New("price unknown")

func termMatch(field, value string) ptypes.Filter {
	return ptypes.Filter{Type: ptypes.FilterTypeTermMatch, Field: aws.String(field), Value: aws.String(value)}
}

// hourly is the on-demand Linux price of an instance type in the portal's
// region, in USD per hour.
func (p *Portal) hourly(ctx context.Context, instanceType string) (float64, error) {
	return p.price(ctx, "ec2:"+instanceType, []ptypes.Filter{
		termMatch("instanceType", instanceType),
		termMatch("regionCode", p.cfg.Region),
		termMatch("operatingSystem", "Linux"),
		termMatch("tenancy", "Shared"),
		termMatch("preInstalledSw", "NA"),
		termMatch("capacitystatus", "Used"),
		termMatch("licenseModel", "No License required"),
	})
}

// gp3Monthly is the price of one GB-month of gp3 storage in the region.
func (p *Portal) gp3Monthly(ctx context.Context) (float64, error) {
	return p.price(ctx, "ebs:gp3", []ptypes.Filter{
		termMatch("productFamily", "Storage"),
		termMatch("volumeApiName", "gp3"),
		termMatch("regionCode", p.cfg.Region),
	})
}

func (p *Portal) price(ctx context.Context, key string, filters []ptypes.Filter) (float64, error) {
	if usd, ok := p.prices.get(key, p.now()); ok {
		return usd, nil
	}
	out, err := p.aws.Prices.GetProducts(ctx, &pricing.GetProductsInput{
		ServiceCode: aws.String("AmazonEC2"), Filters: filters, MaxResults: aws.Int32(10),
	})
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errPriceUnknown, err)
	}
	usd, err := onDemandUSD(out.PriceList)
	if err != nil {
		return 0, err
	}
	p.prices.put(key, usd, p.now())
	return usd, nil
}

// onDemandUSD reads the first positive on-demand USD price from Price List
// documents ({"terms":{"OnDemand":{sku:{"priceDimensions":{id:{"pricePerUnit":{"USD":"0.0832"}}}}}}}).
func onDemandUSD(docs []string) (float64, error) {
	for _, d := range docs {
		var doc struct {
			Terms struct {
				OnDemand map[string]struct {
					PriceDimensions map[string]struct {
						PricePerUnit map[string]string `json:"pricePerUnit"`
					} `json:"priceDimensions"`
				} `json:"OnDemand"`
			} `json:"terms"`
		}
		if json.Unmarshal([]byte(d), &doc) != nil {
			continue
		}
		for _, term := range doc.Terms.OnDemand {
			for _, dim := range term.PriceDimensions {
				if v, err := strconv.ParseFloat(dim.PricePerUnit["USD"], 64); err == nil && v > 0 {
					return v, nil
				}
			}
		}
	}
	return 0, errPriceUnknown
}

// typePrices fetches the prices of all configured types concurrently;
// types whose price is unknown are missing from the map.
func (p *Portal) typePrices(ctx context.Context) map[string]float64 {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]float64{}
	sem := make(chan struct{}, 4)
	for _, t := range p.cfg.InstanceTypes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if v, err := p.hourly(ctx, t.Name); err == nil {
				mu.Lock()
				out[t.Name] = v
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// errImageUnavailable means an image has no build for the architecture or
// region.
var errImageUnavailable = errors.New("image unavailable")

// resolveImage reads the image's public SSM parameter for the architecture.
func (p *Portal) resolveImage(ctx context.Context, im Image, arch string) (string, error) {
	word, ok := im.Arch[arch]
	if !ok {
		return "", fmt.Errorf("%w: %s has no %s build; pick a type with another processor", errImageUnavailable, im.Name, arch)
	}
	name := strings.ReplaceAll(im.Parameter, "{arch}", word)
	out, err := p.aws.Parameters.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{name}})
	if err != nil {
		return "", err
	}
	for _, prm := range out.Parameters {
		if aws.ToString(prm.Name) == name && strings.HasPrefix(aws.ToString(prm.Value), "ami-") {
			return aws.ToString(prm.Value), nil
		}
	}
	return "", fmt.Errorf("%w: %s is not published in %s", errImageUnavailable, im.Name, p.cfg.Region)
}
