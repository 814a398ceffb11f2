package portal

import (
	"context"
	"errors"
	"fmt"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// launchRequest is the launch form as submitted.
type launchRequest struct {
	Name, Image, Type, Key, Team string
	VolumeGiB                    int32
	KeepRunning                  bool
	Token                        string
}

type typeOption struct {
	Name  string
	Price float64
	Known bool
}

type typeGroup struct {
	Name  string
	Types []typeOption
}

type estimate struct {
	Hourly, StorageMonthly, Day, Month float64
	Known                              bool
}

type launchData struct {
	Groups     []typeGroup
	Images     []Image
	Keys       []string
	Teams      []string
	Volume     VolumeBounds
	Form       launchRequest
	Estimate   *estimate
	MaxRunning int
	SpendLimit float64
	AutoStop   AutoStop
}

var groupOrder = []string{"general", "compute", "memory", "gpu"}

var groupTitle = map[string]string{"general": "General purpose", "compute": "Compute optimized", "memory": "Memory optimized", "gpu": "GPU"}

// A machine name becomes its Name tag; keep it short and printable.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$`)

func (p *Portal) launchData(ctx context.Context, c EC2, s *Session, form launchRequest) (*launchData, error) {
	keys, err := p.listKeys(ctx, c, s)
	if err != nil {
		return nil, err
	}
	d := &launchData{
		Images: p.cfg.Images, Volume: p.cfg.Volume, Form: form,
		MaxRunning: p.cfg.MaxRunning, SpendLimit: p.cfg.MonthlySpendLimit, AutoStop: p.cfg.AutoStop,
		Teams: p.userTeams(s),
	}
	for _, k := range keys {
		d.Keys = append(d.Keys, k.Name)
	}
	return d, nil
}

// typeGroups are the machine types offered, with prices, as the form
// shows them. Only a rendered form needs them: a launch that goes ahead
// prices just the type it starts.
func (p *Portal) typeGroups(ctx context.Context) []typeGroup {
	prices := p.typePrices(ctx)
	var groups []typeGroup
	for _, g := range groupOrder {
		tg := typeGroup{Name: groupTitle[g]}
		for _, t := range p.cfg.InstanceTypes {
			if t.Group == g {
				price, ok := prices[t.Name]
				tg.Types = append(tg.Types, typeOption{Name: t.Name, Price: price, Known: ok})
			}
		}
		if len(tg.Types) > 0 {
			groups = append(groups, tg)
		}
	}
	return groups
}

// renderLaunch shows the launch form, with msg as its error if not empty.
func (p *Portal) renderLaunch(w http.ResponseWriter, r *http.Request, s *Session, status int, d *launchData, msg string) {
	d.Groups = p.typeGroups(r.Context())
	p.renderView(w, r, s, status, "launch", view{Error: msg, Data: d})
}

// userTeams are the configured teams the user is a member of.
func (p *Portal) userTeams(s *Session) []string {
	var out []string
	for _, t := range p.cfg.Teams {
		if slices.Contains(s.Groups, t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

func (p *Portal) launchForm(w http.ResponseWriter, r *http.Request, s *Session) {
	c, err := p.ec2For(r.Context(), s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	form := launchRequest{VolumeGiB: p.cfg.Volume.DefaultGiB, Token: randomString(18)}
	if len(p.cfg.Images) > 0 {
		form.Image = p.cfg.Images[0].Key
	}
	if len(p.cfg.InstanceTypes) > 0 {
		form.Type = p.cfg.InstanceTypes[0].Name
	}
	if teams := p.userTeams(s); len(teams) > 0 {
		form.Team = teams[0]
	}
	d, err := p.launchData(r.Context(), c, s, form)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	p.renderLaunch(w, r, s, http.StatusOK, d, "")
}

func parseLaunch(r *http.Request) launchRequest {
	v, _ := strconv.ParseInt(r.PostFormValue("volume"), 10, 32)
	return launchRequest{
		Name: strings.TrimSpace(r.PostFormValue("name")), Image: r.PostFormValue("image"),
		Type: r.PostFormValue("type"), Key: r.PostFormValue("key"), Team: r.PostFormValue("team"),
		VolumeGiB: int32(v), KeepRunning: r.PostFormValue("keep_running") == "on",
		Token: r.PostFormValue("token"),
	}
}

// check validates the form against the configuration and the user's own
// keys and teams; every problem is reported at once.
func (p *Portal) check(f launchRequest, d *launchData) []string {
	var probs []string
	if !validName.MatchString(f.Name) {
		probs = append(probs, "Name: use 1 to 63 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit.")
	}
	if _, ok := p.cfg.Image(f.Image); !ok {
		probs = append(probs, "Operating system: pick one from the list.")
	}
	if _, ok := p.cfg.InstanceType(f.Type); !ok {
		probs = append(probs, "Machine type: pick one from the list.")
	}
	if f.VolumeGiB < p.cfg.Volume.MinGiB || f.VolumeGiB > p.cfg.Volume.MaxGiB {
		probs = append(probs, fmt.Sprintf("Disk size: choose between %d and %d GiB.", p.cfg.Volume.MinGiB, p.cfg.Volume.MaxGiB))
	}
	if f.Key != "" && !slices.Contains(d.Keys, f.Key) {
		probs = append(probs, "Key pair: pick one of your own keys, or none.")
	}
	if f.Team != "" && !slices.Contains(d.Teams, f.Team) {
		probs = append(probs, "Team: you can only pick a team you belong to.")
	}
	// EC2 client tokens are at most 64 characters, and RunInstances adds
	// "-<attempt>" for each subnet it tries.
	if len(f.Token) < 16 || len(f.Token) > 61 {
		probs = append(probs, "The form is incomplete; reload the page.")
	}
	return probs
}

func (p *Portal) estimate(ctx context.Context, f launchRequest) *estimate {
	e := &estimate{}
	h, err1 := p.hourly(ctx, f.Type)
	g, err2 := p.gp3Monthly(ctx)
	if err1 != nil || err2 != nil {
		return e
	}
	e.Known = true
	e.Hourly = h
	e.StorageMonthly = g * float64(f.VolumeGiB)
	e.Day = 8*h + e.StorageMonthly/30
	e.Month = 730*h + e.StorageMonthly
	return e
}

func (p *Portal) launch(w http.ResponseWriter, r *http.Request, s *Session) {
	ctx := r.Context()
	c, err := p.ec2For(ctx, s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	f := parseLaunch(r)
	d, err := p.launchData(ctx, c, s, f)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	again := func(status int, msg string) { p.renderLaunch(w, r, s, status, d, msg) }
	if probs := p.check(f, d); len(probs) > 0 {
		again(http.StatusUnprocessableEntity, strings.Join(probs, " "))
		return
	}
	d.Estimate = p.estimate(ctx, f)
	if r.PostFormValue("op") == "estimate" {
		p.renderLaunch(w, r, s, http.StatusOK, d, "")
		return
	}
	if err := p.checkRunningLimit(ctx, c, s); err != nil {
		var le *limitError
		if errors.As(err, &le) {
			again(http.StatusConflict, le.msg)
			return
		}
		p.awsFail(w, r, s, err)
		return
	}
	if p.cfg.MonthlySpendLimit > 0 {
		spent, err := p.monthSpend(ctx, s.Subject)
		if err != nil {
			p.log.Error("spend check", "err", err)
			again(http.StatusServiceUnavailable, "Could not check your spending this month, so the launch was not started. Try again in a minute.")
			return
		}
		if spent >= p.cfg.MonthlySpendLimit {
			again(http.StatusConflict, fmt.Sprintf("Limit reached: you have spent $%.2f this month and the monthly limit is $%.2f.", spent, p.cfg.MonthlySpendLimit))
			return
		}
	}
	id, err := p.runInstance(ctx, c, s, f)
	if err != nil {
		switch {
		case errors.Is(err, errImageUnavailable):
			again(http.StatusUnprocessableEntity, err.Error()+".")
		case errors.Is(err, errNoCapacity):
			again(http.StatusServiceUnavailable, err.Error())
		default:
			p.awsFail(w, r, s, err)
		}
		return
	}
	msg := "Launching " + f.Name + " (" + id + ")."
	if d.Estimate.Known {
		msg += fmt.Sprintf(" It costs about $%.4f an hour while running.", d.Estimate.Hourly)
	} else {
		msg += " Its price is unknown."
	}
	p.done(w, r, "/machines", msg)
}

var errNoCapacity = errors.New("no capacity")

const MetadataHopLimit = portalconfig.MetadataHopLimit

func (p *Portal) runInstance(ctx context.Context, c EC2, s *Session, f launchRequest) (string, error) {
	im, _ := p.cfg.Image(f.Image)
	ami, err := p.resolveImage(ctx, im, Arch(f.Type))
	if err != nil {
		return "", err
	}
	imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil {
		return "", err
	}
	if len(imgs.Images) == 0 {
		return "", fmt.Errorf("%w: %s (%s) is not visible in %s", errImageUnavailable, im.Name, ami, p.cfg.Region)
	}
	rootDevice := aws.ToString(imgs.Images[0].RootDeviceName)

	profile := p.cfg.InstanceProfileARN
	if t, ok := p.cfg.Team(f.Team); ok {
		profile = t.InstanceProfileARN
	}
	tags := []types.Tag{
		{Key: aws.String("Name"), Value: aws.String(f.Name)},
		{Key: aws.String(TagOwner), Value: aws.String(s.Subject)},
		{Key: aws.String(TagUser), Value: aws.String(s.Username)},
		{Key: aws.String(TagInstance), Value: aws.String(p.cfg.Instance)},
		{Key: aws.String(TagImage), Value: aws.String(f.Image)},
	}
	if f.Team != "" {
		tags = append(tags, types.Tag{Key: aws.String(TagTeam), Value: aws.String(f.Team)})
	}
	autoStop := AutoStopOn
	if f.KeepRunning {
		autoStop = AutoStopOff
	}
	tags = append(tags, types.Tag{Key: aws.String(TagAutoStop), Value: aws.String(autoStop)})
	in := &ec2.RunInstancesInput{
		ImageId: aws.String(ami), InstanceType: types.InstanceType(f.Type),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SecurityGroupIds: p.cfg.SecurityGroupIDs,
		BlockDeviceMappings: []types.BlockDeviceMapping{{
			DeviceName: aws.String(rootDevice),
			Ebs: &types.EbsBlockDevice{
				VolumeSize: aws.Int32(f.VolumeGiB), VolumeType: types.VolumeTypeGp3,
				Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true),
			},
		}},
		MetadataOptions: &types.InstanceMetadataOptionsRequest{
			HttpTokens: types.HttpTokensStateRequired, HttpEndpoint: types.InstanceMetadataEndpointStateEnabled,
			HttpPutResponseHopLimit: aws.Int32(MetadataHopLimit),
		},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		},
	}
	if f.Key != "" {
		in.KeyName = aws.String(f.Key)
	}
	if profile != "" {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: aws.String(profile)}
	}
	var zones []string
	for i, sn := range p.cfg.Subnets {
		in.SubnetId = aws.String(sn.ID)
		// One client token per subnet: a double-submitted form is then
		// idempotent, while a retry in another zone is a new request.
		in.ClientToken = aws.String(f.Token + "-" + strconv.Itoa(i))
		out, err := c.RunInstances(ctx, in)
		if apiCode(err) == "InsufficientInstanceCapacity" {
			zones = append(zones, sn.AZ)
			continue
		}
		if err != nil {
			return "", err
		}
		if len(out.Instances) == 0 {
			return "", errors.New("RunInstances returned no instance")
		}
		return aws.ToString(out.Instances[0].InstanceId), nil
	}
	return "", fmt.Errorf("%w: AWS has no %s capacity in %s right now. Try again later or pick another type", errNoCapacity, f.Type, strings.Join(zones, ", "))
}
