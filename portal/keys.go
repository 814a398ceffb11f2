package portal

import (
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type keyInfo struct {
	Name, ID, Type, Fingerprint, Created string
}

var validKeyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (p *Portal) listKeys(ctx context.Context, c EC2, s *Session) ([]keyInfo, error) {
	out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: p.ownerFilters(s.Subject)})
	if err != nil {
		return nil, err
	}
	var keys []keyInfo
	for _, k := range out.KeyPairs {
		if !p.owned(k.Tags, s.Subject) {
			continue
		}
		ki := keyInfo{Name: aws.ToString(k.KeyName), ID: aws.ToString(k.KeyPairId), Type: string(k.KeyType), Fingerprint: aws.ToString(k.KeyFingerprint)}
		if k.CreateTime != nil {
			ki.Created = k.CreateTime.UTC().Format("2006-01-02")
		}
		keys = append(keys, ki)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a].Name < keys[b].Name })
	return keys, nil
}

func (p *Portal) keys(w http.ResponseWriter, r *http.Request, s *Session) {
	p.keysPage(w, r, s, http.StatusOK, "")
}

func (p *Portal) keysPage(w http.ResponseWriter, r *http.Request, s *Session, status int, msg string) {
	c, err := p.ec2For(r.Context(), s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	keys, err := p.listKeys(r.Context(), c, s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	p.renderView(w, r, s, status, "keys", view{Error: msg, Data: keys})
}

type newKey struct {
	Name, Material string
	Download       template.URL
}

func (p *Portal) createKey(w http.ResponseWriter, r *http.Request, s *Session) {
	name := r.PostFormValue("name")
	kt := types.KeyTypeEd25519
	if r.PostFormValue("type") == "rsa" {
		kt = types.KeyTypeRsa
	}
	if !validKeyName.MatchString(name) {
		p.keysPage(w, r, s, http.StatusUnprocessableEntity, "Key name: use 1 to 63 letters, digits, dots, dashes or underscores.")
		return
	}
	c, err := p.ec2For(r.Context(), s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	tags := []types.Tag{
		{Key: aws.String(TagOwner), Value: aws.String(s.Subject)},
		{Key: aws.String(TagInstance), Value: aws.String(p.cfg.Instance)},
	}
	out, err := c.CreateKeyPair(r.Context(), &ec2.CreateKeyPairInput{
		KeyName: aws.String(name), KeyType: kt, KeyFormat: types.KeyFormatPem,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: tags}},
	})
	if apiCode(err) == "InvalidKeyPair.Duplicate" {
		p.keysPage(w, r, s, http.StatusConflict, "A key named "+name+" already exists in this account; pick another name.")
		return
	}
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	material := aws.ToString(out.KeyMaterial)
	// AWS keeps no copy of the private key: this page is the only time the
	// user can get it, so it is shown and offered as a download here.
	p.render(w, r, s, http.StatusOK, "newkey", newKey{
		Name: name, Material: material,
		Download: template.URL("data:application/x-pem-file;base64," + base64.StdEncoding.EncodeToString([]byte(material))),
	})
}

func (p *Portal) deleteKey(w http.ResponseWriter, r *http.Request, s *Session) {
	name := r.PathValue("name")
	c, err := p.ec2For(r.Context(), s)
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	id, err := p.ownedKey(r.Context(), c, s, name)
	if errors.Is(err, errNotYours) {
		p.fail(w, r, s, http.StatusNotFound, "There is no key "+name+" of yours.")
		return
	} else if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	if _, err := c.DeleteKeyPair(r.Context(), &ec2.DeleteKeyPairInput{KeyPairId: aws.String(id)}); err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	p.done(w, r, "/keys", "Deleted key "+name+".")
}

// ownedKey returns the id of the user's key pair called name, after
// checking its Owner and instance tags.
func (p *Portal) ownedKey(ctx context.Context, c EC2, s *Session, name string) (string, error) {
	if !validKeyName.MatchString(name) {
		return "", errNotYours
	}
	out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{name}})
	if apiCode(err) == "InvalidKeyPair.NotFound" {
		return "", errNotYours
	}
	if err != nil {
		return "", err
	}
	for _, k := range out.KeyPairs {
		if aws.ToString(k.KeyName) == name && p.owned(k.Tags, s.Subject) {
			return aws.ToString(k.KeyPairId), nil
		}
	}
	return "", errNotYours
}
