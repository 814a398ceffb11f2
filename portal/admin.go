package portal

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

type poolUser struct {
	Name, Email, Status string
	Enabled, Pending    bool
	Groups              []string
}

type adminData struct {
	Pending []poolUser
	Users   []poolUser
	Teams   []string
}

// Cognito usernames are at most 128 characters without whitespace.
var validUsername = regexp.MustCompile(`^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$`)

// eachPoolUser calls fn with every user ListUsers returns for in, over all
// pages (the SDK's paginator).
func (p *Portal) eachPoolUser(ctx context.Context, in *cip.ListUsersInput, fn func(ciptypes.UserType)) error {
	pages := cip.NewListUsersPaginator(p.aws.Users, in)
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, u := range out.Users {
			fn(u)
		}
	}
	return nil
}

func (p *Portal) poolUsers(ctx context.Context) ([]poolUser, error) {
	groups := map[string][]string{}
	names := []string{p.cfg.AdminGroup, p.cfg.PendingGroup}
	for _, t := range p.cfg.Teams {
		names = append(names, t.Name)
	}
	for _, g := range names {
		pages := cip.NewListUsersInGroupPaginator(p.aws.Users, &cip.ListUsersInGroupInput{UserPoolId: aws.String(p.cfg.UserPoolID), GroupName: aws.String(g)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if apiCode(err) == "ResourceNotFoundException" {
				break
			}
			if err != nil {
				return nil, err
			}
			for _, u := range out.Users {
				groups[aws.ToString(u.Username)] = append(groups[aws.ToString(u.Username)], g)
			}
		}
	}
	var users []poolUser
	err := p.eachPoolUser(ctx, &cip.ListUsersInput{UserPoolId: aws.String(p.cfg.UserPoolID)}, func(u ciptypes.UserType) {
		pu := poolUser{Name: aws.ToString(u.Username), Status: string(u.UserStatus), Enabled: u.Enabled}
		for _, a := range u.Attributes {
			if aws.ToString(a.Name) == "email" {
				pu.Email = aws.ToString(a.Value)
			}
		}
		pu.Groups = groups[pu.Name]
		pu.Pending = p.pending(u.Enabled, pu.Groups)
		users = append(users, pu)
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(users, func(a, b int) bool { return users[a].Name < users[b].Name })
	return users, nil
}

func (p *Portal) adminPage(w http.ResponseWriter, r *http.Request, s *Session) {
	users, err := p.poolUsers(r.Context())
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	d := adminData{}
	for _, t := range p.cfg.Teams {
		d.Teams = append(d.Teams, t.Name)
	}
	for _, u := range users {
		if u.Pending {
			d.Pending = append(d.Pending, u)
		} else {
			d.Users = append(d.Users, u)
		}
	}
	p.render(w, r, s, http.StatusOK, "admin", d)
}

func (p *Portal) adminAction(w http.ResponseWriter, r *http.Request, s *Session) {
	ctx := r.Context()
	name, action := r.PathValue("name"), r.PathValue("action")
	if !validUsername.MatchString(name) {
		p.fail(w, r, s, http.StatusNotFound, "No such user.")
		return
	}
	pool := aws.String(p.cfg.UserPoolID)
	current, err := UserGroups(ctx, p.aws.Users, p.cfg.UserPoolID, name)
	if apiCode(err) == "UserNotFoundException" {
		p.fail(w, r, s, http.StatusNotFound, "No such user.")
		return
	} else if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	var msg string
	switch action {
	case "approve":
		// Membership of the approved group is what lets the account have
		// tokens; it comes last, so a failure half way leaves the account
		// still refused.
		if _, err = p.aws.Users.AdminEnableUser(ctx, &cip.AdminEnableUserInput{UserPoolId: pool, Username: aws.String(name)}); err == nil && slices.Contains(current, p.cfg.PendingGroup) {
			_, err = p.aws.Users.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: pool, Username: aws.String(name), GroupName: aws.String(p.cfg.PendingGroup)})
		}
		if err == nil {
			_, err = p.aws.Users.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: pool, Username: aws.String(name), GroupName: aws.String(p.cfg.ApprovedGroup)})
		}
		msg = "Approved " + name + "."
	case "reject":
		pending, perr := p.pendingUser(ctx, name, current)
		if perr != nil {
			p.awsFail(w, r, s, perr)
			return
		}
		if !pending {
			p.fail(w, r, s, http.StatusConflict, name+" is not waiting for approval; only pending sign-ups can be rejected.")
			return
		}
		_, err = p.aws.Users.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: pool, Username: aws.String(name)})
		msg = "Rejected and removed " + name + "."
	case "teams":
		if err := r.ParseForm(); err != nil {
			p.fail(w, r, s, http.StatusBadRequest, "Bad form.")
			return
		}
		want := r.PostForm["team"]
		for _, t := range want {
			if _, ok := p.cfg.Team(t); !ok {
				p.fail(w, r, s, http.StatusUnprocessableEntity, "Unknown team "+t+".")
				return
			}
		}
		for _, t := range p.cfg.Teams {
			has, should := slices.Contains(current, t.Name), slices.Contains(want, t.Name)
			switch {
			case should && !has:
				_, err = p.aws.Users.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: pool, Username: aws.String(name), GroupName: aws.String(t.Name)})
			case has && !should:
				_, err = p.aws.Users.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: pool, Username: aws.String(name), GroupName: aws.String(t.Name)})
			}
			if err != nil {
				break
			}
		}
		msg = "Updated the teams of " + name + ". They apply from the user's next sign-in."
	default:
		p.fail(w, r, s, http.StatusNotFound, "Unknown action.")
		return
	}
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	p.done(w, r, "/admin", msg)
}

// pending is the rule for a user held for approval: disabled, or in the
// pending group.
func (p *Portal) pending(enabled bool, groups []string) bool {
	return !enabled || slices.Contains(groups, p.cfg.PendingGroup)
}

// filterQuote escapes a value for a ListUsers filter's double quotes.
var filterQuote = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// pendingUser applies the pending rule to one user whose groups are known,
// asking the pool for that user alone rather than listing every user and
// group as the Admin page does.
func (p *Portal) pendingUser(ctx context.Context, name string, groups []string) (bool, error) {
	out, err := p.aws.Users.ListUsers(ctx, &cip.ListUsersInput{
		UserPoolId: aws.String(p.cfg.UserPoolID), Filter: aws.String(`username = "` + filterQuote.Replace(name) + `"`),
	})
	if err != nil {
		return false, err
	}
	for _, u := range out.Users {
		if aws.ToString(u.Username) == name {
			return p.pending(u.Enabled, groups), nil
		}
	}
	return false, nil
}

// UserGroups is the names of the groups user is in, over every page of
// AdminListGroupsForUser (the SDK's paginator): a user may be in more groups
// than one answer holds.
func UserGroups(ctx context.Context, c cip.AdminListGroupsForUserAPIClient, pool, user string) ([]string, error) {
	var out []string
	pages := cip.NewAdminListGroupsForUserPaginator(c, &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(pool), Username: aws.String(user)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range page.Groups {
			out = append(out, aws.ToString(g.GroupName))
		}
	}
	return out, nil
}
