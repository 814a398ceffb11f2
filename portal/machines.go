package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// machine is one row of the My machines page.
type machine struct {
	ID, Name, State, Type, AZ  string
	Address, Image, Team, Key  string
	Uptime                     string
	Commands                   []string
	Cost                       float64
	CostKnown                  bool
	AutoStop                   bool
	CanStart, CanStop, CanTerm bool
}

// live is the set of states that count toward the running-machine limit.
var live = map[types.InstanceStateName]bool{types.InstanceStateNamePending: true, types.InstanceStateNameRunning: true}

func tag(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// owned reports whether tags mark a machine or key pair as user's in this
// HelioCloud instance.
func (p *Portal) owned(tags []types.Tag, user string) bool {
	return tag(tags, TagOwner) == user && tag(tags, TagInstance) == p.cfg.Instance
}

// ownerFilters ask EC2 for user's resources in this HelioCloud instance.
func (p *Portal) ownerFilters(user string) []types.Filter {
	return []types.Filter{
		{Name: aws.String("tag:" + TagOwner), Values: []string{user}},
		{Name: aws.String("tag:" + TagInstance), Values: []string{p.cfg.Instance}},
	}
}

// Instances is every instance DescribeInstances answers in with, over all
// its pages (the SDK's paginator).
func Instances(ctx context.Context, c ec2.DescribeInstancesAPIClient, in *ec2.DescribeInstancesInput) ([]types.Instance, error) {
	var out []types.Instance
	pages := ec2.NewDescribeInstancesPaginator(c, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Reservations {
			out = append(out, r.Instances...)
		}
	}
	return out, nil
}

// listMachines returns the user's machines that are not terminated.
func (p *Portal) listMachines(ctx context.Context, c EC2, s *Session) ([]types.Instance, error) {
	in := &ec2.DescribeInstancesInput{Filters: append(p.ownerFilters(s.Subject),
		types.Filter{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}},
	)}
	all, err := Instances(ctx, c, in)
	if err != nil {
		return nil, err
	}
	var out []types.Instance
	for _, i := range all {
		// The filter already asks for these tags; checking again keeps a
		// mis-scoped response from showing others' machines.
		if p.owned(i.Tags, s.Subject) {
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		return aws.ToTime(out[a].LaunchTime).After(aws.ToTime(out[b].LaunchTime))
	})
	return out, nil
}

func (p *Portal) machines(w http.ResponseWriter, r *http.Request, s *Session) {
	c, err := p.ec2For(r.Context(), s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	insts, err := p.listMachines(r.Context(), c, s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	rows := make([]machine, 0, len(insts))
	for _, i := range insts {
		rows = append(rows, p.machineRow(r.Context(), i))
	}
	p.render(w, r, s, http.StatusOK, "machines", rows)
}

func (p *Portal) machineRow(ctx context.Context, i types.Instance) machine {
	m := machine{
		ID: aws.ToString(i.InstanceId), Name: tag(i.Tags, "Name"), Type: string(i.InstanceType),
		Image: tag(i.Tags, TagImage), Team: tag(i.Tags, TagTeam), Key: aws.ToString(i.KeyName),
		AutoStop: tag(i.Tags, TagAutoStop) != AutoStopOff,
	}
	if i.State != nil {
		m.State = string(i.State.Name)
	}
	if i.Placement != nil {
		m.AZ = aws.ToString(i.Placement.AvailabilityZone)
	}
	m.Address = aws.ToString(i.PrivateIpAddress)
	if ip := aws.ToString(i.PublicIpAddress); ip != "" {
		m.Address = ip
	}
	m.CanStart = m.State == "stopped"
	m.CanStop = m.State == "running" || m.State == "pending"
	m.CanTerm = m.State != "shutting-down"
	if m.State == "running" && i.LaunchTime != nil {
		up := p.now().Sub(*i.LaunchTime)
		m.Uptime = humanDuration(up)
		if price, err := p.hourly(ctx, m.Type); err == nil {
			m.Cost, m.CostKnown = price*up.Hours(), true
		}
	}
	user := "ec2-user"
	if im, ok := p.cfg.Image(m.Image); ok && im.User != "" {
		user = im.User
	}
	if m.State == "running" {
		m.Commands = append(m.Commands, fmt.Sprintf("aws ssm start-session --region %s --target %s", p.cfg.Region, m.ID))
		if m.Key != "" {
			if p.cfg.SSH && m.Address != "" {
				m.Commands = append(m.Commands, fmt.Sprintf("ssh -i ~/.ssh/%s.pem %s@%s", m.Key, user, m.Address))
			} else {
				m.Commands = append(m.Commands, fmt.Sprintf(`ssh -i ~/.ssh/%s.pem -o ProxyCommand="aws ssm start-session --region %s --target %%h --document-name AWS-StartSSHSession --parameters portNumber=%%p" %s@%s`, m.Key, p.cfg.Region, user, m.ID))
			}
		}
	}
	return m
}

func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := int(d.Hours()) / 24
	h := int(d.Hours()) % 24
	min := int(d.Minutes()) % 60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, min)
	default:
		return fmt.Sprintf("%dm", min)
	}
}

// errNotYours is returned for machines and keys the user does not own. The
// message is the same as for a missing one, so that it reveals nothing.
var errNotYours = errors.New("not found")

// ownedMachine looks the machine up with the user's credentials and checks
// its Owner and instance tags before any action on it.
func (p *Portal) ownedMachine(ctx context.Context, c EC2, s *Session, id string) (types.Instance, error) {
	if !strings.HasPrefix(id, "i-") {
		return types.Instance{}, errNotYours
	}
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if apiCode(err) == "InvalidInstanceID.NotFound" || apiCode(err) == "InvalidInstanceID.Malformed" {
			return types.Instance{}, errNotYours
		}
		return types.Instance{}, err
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if aws.ToString(i.InstanceId) == id && p.owned(i.Tags, s.Subject) {
				return i, nil
			}
		}
	}
	return types.Instance{}, errNotYours
}

func (p *Portal) machineAction(w http.ResponseWriter, r *http.Request, s *Session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != "start" && action != "stop" && action != "terminate" {
		p.fail(w, r, s, http.StatusNotFound, "Unknown action.")
		return
	}
	ctx := r.Context()
	c, err := p.ec2For(ctx, s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	inst, err := p.ownedMachine(ctx, c, s, id)
	if errors.Is(err, errNotYours) {
		p.fail(w, r, s, http.StatusNotFound, "There is no machine "+id+" of yours.")
		return
	} else if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	name := tag(inst.Tags, "Name")
	if name == "" {
		name = id
	}
	switch action {
	case "start":
		if err := p.checkRunningLimit(ctx, c, s); err != nil {
			p.limitFail(w, r, s, err)
			return
		}
		_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	case "stop":
		_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	case "terminate":
		if r.PostFormValue("confirm") != "yes" {
			p.render(w, r, s, http.StatusOK, "confirm", machine{ID: id, Name: name})
			return
		}
		_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	}
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	verb := map[string]string{"start": "Starting", "stop": "Stopping", "terminate": "Terminating"}[action]
	p.done(w, r, "/machines", verb+" "+name+".")
}

// limitError is a refusal the user can act on (a limit was reached).
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

func (p *Portal) checkRunningLimit(ctx context.Context, c EC2, s *Session) error {
	if p.cfg.MaxRunning <= 0 {
		return nil
	}
	insts, err := p.listMachines(ctx, c, s)
	if err != nil {
		return err
	}
	n := 0
	for _, i := range insts {
		if i.State != nil && live[i.State.Name] {
			n++
		}
	}
	if n >= p.cfg.MaxRunning {
		return &limitError{fmt.Sprintf("Limit reached: you have %d running machines and the limit is %d. Stop one first.", n, p.cfg.MaxRunning)}
	}
	return nil
}

func (p *Portal) limitFail(w http.ResponseWriter, r *http.Request, s *Session, err error) {
	var le *limitError
	if errors.As(err, &le) {
		p.fail(w, r, s, http.StatusConflict, le.msg)
		return
	}
	p.awsFail(w, r, s, err)
}
