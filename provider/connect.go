package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-logr/logr"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	tokens3 "github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"sigs.k8s.io/yaml"
)

// Errors of Connect that callers branch on.
var (
	// ErrCloudConfig: the credentials could not be read: no clouds.yaml, a
	// malformed one, an unknown cloud name, incomplete OS_* variables, an
	// unreadable CA file.
	ErrCloudConfig = errors.New("cloud configuration")
	// ErrAuthentication: the cloud refused the credentials (401), or does
	// not know the application credential (404).
	ErrAuthentication = errors.New("authentication failed")
)

// Auth holds explicit credentials for WithAuth. Set either Username (or
// UserID) and Password, or ApplicationCredentialID (or
// ApplicationCredentialName with Username/UserID) and
// ApplicationCredentialSecret. String redacts the secrets.
type Auth struct {
	// AuthURL is the Keystone v3 endpoint, such as https://keystone:5000/v3.
	AuthURL string

	Username string
	UserID   string
	Password string
	// UserDomainName or UserDomainID qualifies Username; "default" (by ID)
	// when neither is set.
	UserDomainName string
	UserDomainID   string

	// ProjectName or ProjectID scopes the token to a project.
	ProjectName string
	ProjectID   string
	// ProjectDomainName or ProjectDomainID qualifies ProjectName; the
	// user's domain when neither is set.
	ProjectDomainName string
	ProjectDomainID   string

	ApplicationCredentialID     string
	ApplicationCredentialName   string
	ApplicationCredentialSecret string
}

// String describes the credentials without their secrets.
func (a Auth) String() string {
	user := a.Username
	if user == "" {
		user = a.UserID
	}
	kind := "password"
	if a.ApplicationCredentialID != "" || a.ApplicationCredentialName != "" {
		kind = "application credential " + a.ApplicationCredentialID + a.ApplicationCredentialName
	}
	return fmt.Sprintf("auth{url=%s user=%s project=%s%s %s, secret redacted}", a.AuthURL, user, a.ProjectName, a.ProjectID, kind)
}

// GoString redacts like String, so %#v does not print secrets either.
func (a Auth) GoString() string { return a.String() }

// Option configures Connect.
type Option interface {
	apply(*connectOptions) error
}

type optionFunc func(*connectOptions) error

func (f optionFunc) apply(o *connectOptions) error { return f(o) }

type connectOptions struct {
	cloud      string
	cloudsYAML string
	// cloudsData is a clouds.yaml held in memory (WithCloudsYAMLData).
	cloudsData []byte
	// caData is PEM held in memory (WithCACertData).
	caData     []byte
	auth       *Auth
	region     string
	iface      string
	caCert     string
	insecure   *bool
	httpClient *http.Client
	log        *logr.Logger
}

// WithCloud selects the clouds.yaml entry to use, instead of $OS_CLOUD.
func WithCloud(name string) Option {
	return optionFunc(func(o *connectOptions) error {
		if name == "" {
			return fmt.Errorf("%w: WithCloud: empty cloud name", ErrCloudConfig)
		}
		o.cloud = name
		return nil
	})
}

// WithCloudsYAML reads clouds from the file at path (and secure.yaml next
// to it) instead of searching the usual places.
func WithCloudsYAML(path string) Option {
	return optionFunc(func(o *connectOptions) error {
		if path == "" {
			return fmt.Errorf("%w: WithCloudsYAML: empty path", ErrCloudConfig)
		}
		o.cloudsYAML = path
		return nil
	})
}

// WithCloudsYAMLData reads clouds from data, a clouds.yaml held in memory
// (a Kubernetes Secret's "clouds.yaml" key, say), instead of searching the
// usual places; no secure.yaml is merged. The cloud is chosen with
// WithCloud (or $OS_CLOUD). Messages call the file "clouds.yaml (in
// memory)" and never quote its content.
func WithCloudsYAMLData(data []byte) Option {
	return optionFunc(func(o *connectOptions) error {
		if len(data) == 0 {
			return fmt.Errorf("%w: WithCloudsYAMLData: empty clouds.yaml", ErrCloudConfig)
		}
		o.cloudsData = append([]byte(nil), data...)
		return nil
	})
}

// WithCACertData trusts the PEM certificates in data for TLS, like
// WithCACert with a file.
func WithCACertData(pem []byte) Option {
	return optionFunc(func(o *connectOptions) error {
		if len(pem) == 0 {
			return fmt.Errorf("%w: WithCACertData: empty certificate data", ErrCloudConfig)
		}
		o.caData = append([]byte(nil), pem...)
		return nil
	})
}

// WithAuth uses explicit credentials; clouds.yaml and OS_* variables are
// then not read.
func WithAuth(a Auth) Option {
	return optionFunc(func(o *connectOptions) error {
		if a.AuthURL == "" {
			return fmt.Errorf("%w: WithAuth: AuthURL is empty", ErrCloudConfig)
		}
		o.auth = &a
		return nil
	})
}

// WithRegion selects the region of every service endpoint.
func WithRegion(region string) Option {
	return optionFunc(func(o *connectOptions) error {
		o.region = region
		return nil
	})
}

// WithInterface selects the endpoint interface: "public" (the default),
// "internal" or "admin".
func WithInterface(iface string) Option {
	return optionFunc(func(o *connectOptions) error {
		switch iface {
		case "public", "internal", "admin", "publicURL", "internalURL", "adminURL":
			o.iface = strings.TrimSuffix(iface, "URL")
			return nil
		}
		return fmt.Errorf("%w: WithInterface: %q is not public, internal or admin", ErrCloudConfig, iface)
	})
}

// WithCACert trusts the PEM certificates in the file at path for TLS.
func WithCACert(path string) Option {
	return optionFunc(func(o *connectOptions) error {
		o.caCert = path
		return nil
	})
}

// WithInsecure turns TLS certificate verification off (or back on). Only
// for test clouds.
func WithInsecure(insecure bool) Option {
	return optionFunc(func(o *connectOptions) error {
		o.insecure = &insecure
		return nil
	})
}

// WithHTTPClient sends every request through c. WithCACert and
// WithInsecure then apply to a clone of its transport when that is an
// *http.Transport.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *connectOptions) error {
		if c == nil {
			return fmt.Errorf("%w: WithHTTPClient: nil client", ErrCloudConfig)
		}
		o.httpClient = c
		return nil
	})
}

// WithLogger logs through l instead of the logger in the context.
func WithLogger(l logr.Logger) Option {
	return optionFunc(func(o *connectOptions) error {
		o.log = &l
		return nil
	})
}

// source is where the credentials came from, for messages.
type source struct {
	kind  string // "options", "clouds.yaml", "environment"
	cloud string
	file  string
	user  string
}

func (s source) String() string {
	switch s.kind {
	case "clouds.yaml":
		return fmt.Sprintf("cloud %q (%s)", s.cloud, s.file)
	case "environment":
		return "OS_* environment variables"
	}
	return "explicit options"
}

// Connect authenticates to an OpenStack cloud and returns its service
// clients. Credentials come from, in this order: WithAuth; the cloud named
// by WithCloud or $OS_CLOUD in clouds.yaml (WithCloudsYAML,
// $OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml,
// /etc/openstack/clouds.yaml, with secure.yaml from the same directory
// merged); the OS_* environment variables. The token is renewed when it
// expires. Errors match ErrCloudConfig or ErrAuthentication and never carry
// a password or secret.
func Connect(ctx context.Context, opts ...Option) (*Cloud, error) {
	var o connectOptions
	for _, opt := range opts {
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	log := logr.FromContextOrDiscard(ctx)
	if o.log != nil {
		log = *o.log
	}

	ao, eo, tlsConf, src, err := o.credentials()
	if err != nil {
		return nil, err
	}
	ao.AllowReauth = true
	if o.region != "" {
		eo.Region = o.region
	}
	if o.iface != "" {
		eo.Availability = gophercloud.Availability(o.iface)
	}
	if eo.Availability == "" {
		eo.Availability = gophercloud.AvailabilityPublic
	}

	hc, err := o.buildHTTPClient(tlsConf)
	if err != nil {
		return nil, err
	}
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: auth URL %q: %v", ErrCloudConfig, src, ao.IdentityEndpoint, err)
	}
	pc.HTTPClient = *hc
	log.V(1).Info("authenticating", "source", src.String(), "authURL", ao.IdentityEndpoint, "user", src.user)
	if err := openstack.Authenticate(ctx, pc, ao); err != nil {
		return nil, authError(src, ao, err)
	}

	c := &Cloud{Name: src.cloud, Region: eo.Region, Provider: pc}
	if cr, ok := pc.GetAuthResult().(tokens3.CreateResult); ok {
		if p, err := cr.ExtractProject(); err == nil && p != nil {
			c.ProjectID = p.ID
		}
		if c.Region == "" {
			c.Region = computeRegion(cr, eo.Availability)
		}
	}
	if c.Compute, err = openstack.NewComputeV2(pc, eo); err != nil {
		return nil, endpointError(src, "compute", eo, err)
	}
	if c.Network, err = openstack.NewNetworkV2(pc, eo); err != nil {
		return nil, endpointError(src, "network", eo, err)
	}
	if c.Image, err = openstack.NewImageV2(pc, eo); err != nil {
		return nil, endpointError(src, "image", eo, err)
	}
	if c.LoadBalancer, err = openstack.NewLoadBalancerV2(pc, eo); err != nil {
		if !isEndpointNotFound(err) {
			return nil, endpointError(src, "load-balancer", eo, err)
		}
		c.LoadBalancer = nil
	}
	if c.BlockStorage, err = openstack.NewBlockStorageV3(pc, eo); err != nil {
		if !isEndpointNotFound(err) {
			return nil, endpointError(src, "block-storage", eo, err)
		}
		c.BlockStorage = nil
	}
	log.Info("connected", "source", src.String(), "region", c.Region, "project", c.ProjectID,
		"loadBalancer", c.LoadBalancer != nil, "blockStorage", c.BlockStorage != nil)
	return c, nil
}

// computeRegion is the region of the first compute endpoint with the
// interface, which is the one gophercloud picks when no region is set.
func computeRegion(cr tokens3.CreateResult, iface gophercloud.Availability) string {
	cat, err := cr.ExtractServiceCatalog()
	if err != nil {
		return ""
	}
	for _, e := range cat.Entries {
		if e.Type != "compute" {
			continue
		}
		for _, ep := range e.Endpoints {
			if ep.Interface == string(iface) {
				if ep.Region != "" {
					return ep.Region
				}
				return ep.RegionID
			}
		}
	}
	return ""
}

func isEndpointNotFound(err error) bool {
	var nf *gophercloud.ErrEndpointNotFound
	return errors.As(err, &nf)
}

func endpointError(src source, svc string, eo gophercloud.EndpointOpts, err error) error {
	if isEndpointNotFound(err) {
		region := eo.Region
		if region == "" {
			region = "any region"
		}
		return fmt.Errorf("%w: %s: the catalog has no %s endpoint for %s, interface %s (is the token scoped to a project?)",
			ErrCloudConfig, src, svc, region, eo.Availability)
	}
	return fmt.Errorf("%s: %s endpoint: %w", src, svc, err)
}

// authError describes a failed authentication without any secret.
func authError(src source, ao gophercloud.AuthOptions, err error) error {
	authURL := ao.IdentityEndpoint
	var noPass gophercloud.ErrMissingPassword
	var noSecret gophercloud.ErrAppCredMissingSecret
	if errors.As(err, &noPass) || errors.As(err, &noSecret) {
		return &connectError{kind: ErrCloudConfig, msg: fmt.Sprintf(
			"%s: user %s has no password or application credential secret (set it in clouds.yaml, secure.yaml or OS_PASSWORD)",
			src, src.user), err: err}
	}
	if gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) {
		hint := "check the user name, password or application credential"
		user := src.user
		if user == "" {
			user = "(none)"
		}
		return &connectError{kind: ErrAuthentication, msg: fmt.Sprintf("%s: user %s was refused by %s (401): %s",
			src, user, authURL, hint), err: err}
	}
	// Keystone answers 404, not 401, for an application credential it does
	// not know (a wrong ID or name, or a deleted credential).
	isAppCred := ao.ApplicationCredentialID != "" || ao.ApplicationCredentialName != ""
	if isAppCred && gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return &connectError{kind: ErrAuthentication, msg: fmt.Sprintf("%s: user %s: %s does not know the application credential (404): check its ID or name, or whether it was deleted",
			src, src.user, authURL), err: err}
	}
	return &connectError{msg: fmt.Sprintf("%s: authenticate at %s: %s", src, authURL, Describe(err)), err: err}
}

// connectError keeps gophercloud's error in the chain while printing a
// message of its own, since gophercloud's text is long and names URLs only.
type connectError struct {
	kind error
	msg  string
	err  error
}

func (e *connectError) Error() string {
	if e.kind != nil {
		return e.kind.Error() + ": " + e.msg
	}
	return e.msg
}

func (e *connectError) Unwrap() []error {
	if e.kind != nil {
		return []error{e.kind, e.err}
	}
	return []error{e.err}
}

// credentials picks the source of credentials by precedence.
func (o *connectOptions) credentials() (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, source, error) {
	if o.auth != nil {
		ao, src := o.auth.authOptions()
		src.kind = "options"
		return ao, gophercloud.EndpointOpts{}, nil, src, nil
	}
	cloud := o.cloud
	if cloud == "" {
		cloud = os.Getenv("OS_CLOUD")
	}
	if cloud != "" {
		return o.fromCloudsYAML(cloud)
	}
	if os.Getenv("OS_AUTH_URL") != "" {
		a := authFromEnv()
		ao, src := a.authOptions()
		src.kind = "environment"
		eo := gophercloud.EndpointOpts{Region: os.Getenv("OS_REGION_NAME")}
		if i := os.Getenv("OS_INTERFACE"); i != "" {
			eo.Availability = gophercloud.Availability(strings.TrimSuffix(i, "URL"))
		}
		return ao, eo, nil, src, nil
	}
	return gophercloud.AuthOptions{}, gophercloud.EndpointOpts{}, nil, source{}, fmt.Errorf(
		"%w: no credentials: pass WithAuth or WithCloud, set OS_CLOUD (with a clouds.yaml), or set OS_AUTH_URL and the other OS_* variables", ErrCloudConfig)
}

func authFromEnv() Auth {
	first := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	return Auth{
		AuthURL:                     os.Getenv("OS_AUTH_URL"),
		Username:                    os.Getenv("OS_USERNAME"),
		UserID:                      first("OS_USER_ID", "OS_USERID"),
		Password:                    os.Getenv("OS_PASSWORD"),
		UserDomainName:              first("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
		UserDomainID:                first("OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"),
		ProjectName:                 first("OS_PROJECT_NAME", "OS_TENANT_NAME"),
		ProjectID:                   first("OS_PROJECT_ID", "OS_TENANT_ID"),
		ProjectDomainName:           first("OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"),
		ProjectDomainID:             first("OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_ID"),
		ApplicationCredentialID:     os.Getenv("OS_APPLICATION_CREDENTIAL_ID"),
		ApplicationCredentialName:   os.Getenv("OS_APPLICATION_CREDENTIAL_NAME"),
		ApplicationCredentialSecret: os.Getenv("OS_APPLICATION_CREDENTIAL_SECRET"),
	}
}

// authOptions turns explicit credentials into gophercloud's.
func (a Auth) authOptions() (gophercloud.AuthOptions, source) {
	ao := gophercloud.AuthOptions{
		IdentityEndpoint:            a.AuthURL,
		Username:                    a.Username,
		UserID:                      a.UserID,
		Password:                    a.Password,
		ApplicationCredentialID:     a.ApplicationCredentialID,
		ApplicationCredentialName:   a.ApplicationCredentialName,
		ApplicationCredentialSecret: a.ApplicationCredentialSecret,
	}
	if a.UserID == "" && a.ApplicationCredentialID == "" {
		ao.DomainID, ao.DomainName = a.UserDomainID, a.UserDomainName
		if ao.DomainID == "" && ao.DomainName == "" {
			ao.DomainID = "default"
		}
	}
	isAppCred := a.ApplicationCredentialID != "" || a.ApplicationCredentialName != ""
	if !isAppCred && (a.ProjectID != "" || a.ProjectName != "") {
		sc := &gophercloud.AuthScope{ProjectID: a.ProjectID}
		if a.ProjectID == "" {
			sc.ProjectName = a.ProjectName
			sc.DomainID, sc.DomainName = a.ProjectDomainID, a.ProjectDomainName
			if sc.DomainID == "" && sc.DomainName == "" {
				sc.DomainID, sc.DomainName = a.UserDomainID, a.UserDomainName
			}
			if sc.DomainID == "" && sc.DomainName == "" {
				sc.DomainID = "default"
			}
		}
		ao.Scope = sc
	}
	return ao, source{user: userLabel(ao)}
}

func userLabel(ao gophercloud.AuthOptions) string {
	switch {
	case ao.ApplicationCredentialID != "":
		return fmt.Sprintf("%q (application credential %s)", ao.Username+ao.UserID, ao.ApplicationCredentialID)
	case ao.ApplicationCredentialName != "":
		return fmt.Sprintf("%q (application credential %q)", ao.Username+ao.UserID, ao.ApplicationCredentialName)
	case ao.Username != "":
		return fmt.Sprintf("%q", ao.Username)
	}
	return fmt.Sprintf("%q", ao.UserID)
}

// cloudsYAMLLocations lists where clouds.yaml is looked for, like
// gophercloud's clouds.Parse and python-openstackclient.
func (o *connectOptions) cloudsYAMLLocations() ([]string, error) {
	if o.cloudsYAML != "" {
		return []string{o.cloudsYAML}, nil
	}
	if p := os.Getenv("OS_CLIENT_CONFIG_FILE"); p != "" {
		return []string{p}, nil
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("%w: current directory: %v", ErrCloudConfig, err)
	}
	userConfig := os.Getenv("XDG_CONFIG_HOME")
	if userConfig == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("%w: home directory: %v", ErrCloudConfig, err)
		}
		userConfig = filepath.Join(home, ".config")
	}
	return []string{
		filepath.Join(cwd, "clouds.yaml"),
		filepath.Join(userConfig, "openstack", "clouds.yaml"),
		filepath.Join("/etc", "openstack", "clouds.yaml"),
	}, nil
}

// fromCloudsYAML finds clouds.yaml, checks it names the cloud and hands it
// to gophercloud's parser with the matching secure.yaml.
func (o *connectOptions) fromCloudsYAML(cloud string) (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, source, error) {
	fail := func(format string, args ...any) (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, source, error) {
		return gophercloud.AuthOptions{}, gophercloud.EndpointOpts{}, nil, source{}, fmt.Errorf("%w: "+format, append([]any{ErrCloudConfig}, args...)...)
	}
	var file string
	var data []byte
	var locs []string
	if o.cloudsData != nil {
		file, data = "clouds.yaml (in memory)", o.cloudsData
	} else {
		var err error
		if locs, err = o.cloudsYAMLLocations(); err != nil {
			return gophercloud.AuthOptions{}, gophercloud.EndpointOpts{}, nil, source{}, err
		}
	}
	for _, p := range locs {
		if file != "" {
			break
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fail("cloud %q: read %s: %v", cloud, p, err)
		}
		file, data = p, b
		break
	}
	if file == "" {
		return fail("cloud %q: no clouds.yaml found (looked at %s)", cloud, strings.Join(locs, ", "))
	}
	var cy clouds.Clouds
	if err := yaml.Unmarshal(data, &cy); err != nil {
		return fail("cloud %q: %s is not a valid clouds.yaml: %v", cloud, file, err)
	}
	if len(cy.Clouds) == 0 {
		return fail("cloud %q: %s has no \"clouds\" section", cloud, file)
	}
	if _, ok := cy.Clouds[cloud]; !ok {
		names := make([]string, 0, len(cy.Clouds))
		for n := range cy.Clouds {
			names = append(names, n)
		}
		sort.Strings(names)
		return fail("cloud %q is not in %s (it has: %s)", cloud, file, strings.Join(names, ", "))
	}
	popts := []clouds.ParseOption{clouds.WithCloudName(cloud), clouds.WithCloudsYAML(bytes.NewReader(data))}
	// In memory (WithCloudsYAMLData) no directory holds a secure.yaml, and
	// gophercloud's parser reads no file when it is given a reader.
	if o.cloudsData == nil {
		securePath := filepath.Join(filepath.Dir(file), "secure.yaml")
		if sb, err := os.ReadFile(securePath); err == nil {
			var sy clouds.Clouds
			if err := yaml.Unmarshal(sb, &sy); err != nil {
				return fail("cloud %q: %s is not a valid secure.yaml: %v", cloud, securePath, err)
			}
			popts = append(popts, clouds.WithSecureYAML(bytes.NewReader(sb)))
		} else if !errors.Is(err, os.ErrNotExist) {
			return fail("cloud %q: read %s: %v", cloud, securePath, err)
		}
	}
	if o.region != "" {
		popts = append(popts, clouds.WithRegion(o.region))
	}
	if o.iface != "" {
		popts = append(popts, clouds.WithEndpointType(o.iface))
	}
	ao, eo, tlsConf, err := clouds.Parse(popts...)
	if err != nil {
		return fail("cloud %q in %s: %v", cloud, file, err)
	}
	if ao.IdentityEndpoint == "" {
		return fail("cloud %q in %s has no auth.auth_url", cloud, file)
	}
	if eo.Region == "" {
		eo.Region = os.Getenv("OS_REGION_NAME")
	}
	src := source{kind: "clouds.yaml", cloud: cloud, file: file, user: userLabel(ao)}
	return ao, eo, tlsConf, src, nil
}

// buildHTTPClient applies the TLS settings to the caller's client or a new
// one.
func (o *connectOptions) buildHTTPClient(fromYAML *tls.Config) (*http.Client, error) {
	hc := &http.Client{}
	if o.httpClient != nil {
		c := *o.httpClient
		hc = &c
	}
	// gophercloud's clouds.yaml parser returns a TLS config even when the
	// file sets nothing; only real settings need a transport of ours.
	yamlSetsTLS := fromYAML != nil && (fromYAML.RootCAs != nil || fromYAML.InsecureSkipVerify || len(fromYAML.Certificates) > 0)
	if o.caCert == "" && o.caData == nil && o.insecure == nil && !yamlSetsTLS {
		return hc, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if fromYAML != nil {
		conf = fromYAML.Clone()
	}
	if o.caCert != "" {
		pem, err := os.ReadFile(o.caCert)
		if err != nil {
			return nil, fmt.Errorf("%w: CA certificate: %v", ErrCloudConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: CA certificate %s holds no PEM certificate", ErrCloudConfig, o.caCert)
		}
		conf.RootCAs = pool
	}
	if o.caData != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.caData) {
			return nil, fmt.Errorf("%w: CA certificate data holds no PEM certificate", ErrCloudConfig)
		}
		conf.RootCAs = pool
	}
	if o.insecure != nil {
		conf.InsecureSkipVerify = *o.insecure
	}
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("%w: WithCACert/WithInsecure need the HTTP client's Transport to be an *http.Transport, not %T", ErrCloudConfig, t)
	}
	tr.TLSClientConfig = conf
	hc.Transport = tr
	return hc, nil
}
