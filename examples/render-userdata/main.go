// Command render-userdata prints the user data a machine would get, so a user can
// inspect (or diff, or validate) it before any machine boots.
//
//	render-userdata --role init --endpoint 10.6.0.10:6443 --pki-dir ./pki > init.yaml
//	render-userdata --role worker --endpoint 10.6.0.10:6443 --pki-dir ./pki --token-file ./token
//	pass show cluster/token | render-userdata --role worker --endpoint 10.6.0.10:6443 --pki-dir ./pki --token-file -
//	render-userdata --role control-plane --endpoint 10.6.0.10:6443 --pki-dir ./pki --token-file ./token --certificate-key-file ./certificate-key
//
// A joining control plane fetches the CA keys that init uploaded (--upload-certs)
// with the certificate key, so no key is in its user data; --keys-in-user-data
// puts them there instead, for a join more than two hours after the upload.
//
// Secrets (the bootstrap token, the certificate key) are read from files or
// stdin: --token and --certificate-key still work but put the secret in the
// process list, visible to every user of the machine, and say so on stderr.
//
// --pki-dir is read when it holds a PKI and created (0700, keys 0600) otherwise.
// The user data goes to stdout; notes and the size report go to stderr.
// Exit codes: 0 success, 1 runtime failure (files), 2 invalid flags or input,
// 3 user data larger than Nova accepts.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/openstrap/openstrap/userdata"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitTooLarge = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	role, version, endpoint, format, pkiDir, cluster, token, caHash, certKey string
	nodeName, podCIDR, serviceCIDR, gzip, keyAlg, install                    string
	tokenFile, certKeyFile                                                   string
	externalCloud, uploadCerts, keysInUserData                               bool
	sshKeys, labels                                                          stringList
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("render-userdata", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.role, "role", "", "machine role: init, control-plane or worker (required)")
	fs.StringVar(&o.version, "kubernetes-version", "v1.37.2", "Kubernetes version (selects the kubeadm API version)")
	fs.StringVar(&o.endpoint, "endpoint", "", "control plane endpoint host:port (required)")
	fs.StringVar(&o.format, "format", string(userdata.CloudInit), "output format: cloud-init or ignition")
	fs.StringVar(&o.pkiDir, "pki-dir", "", "cluster PKI directory in kubeadm's layout; created when empty or missing")
	fs.StringVar(&o.keyAlg, "key-algorithm", string(userdata.RSA2048), "key algorithm for a new PKI: RSA-2048 or ECDSA-P256")
	fs.StringVar(&o.cluster, "cluster", "demo", "cluster name")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding the bootstrap token id.secret, or - for stdin (joins: required; init: generated when empty)")
	fs.StringVar(&o.token, "token", "", "bootstrap token id.secret; visible to other users in ps: prefer --token-file")
	fs.StringVar(&o.caHash, "ca-hash", "", "CA pin sha256:<hex> for joins (default: computed from --pki-dir)")
	fs.StringVar(&o.certKeyFile, "certificate-key-file", "", "file holding the kubeadm certificate key, or - for stdin: init uploads certificates with it, control-plane joins fetch them with it")
	fs.StringVar(&o.certKey, "certificate-key", "", "kubeadm certificate key; visible to other users in ps: prefer --certificate-key-file")
	fs.BoolVar(&o.uploadCerts, "upload-certs", false, "init: run kubeadm init --upload-certs (generates --certificate-key when empty)")
	fs.BoolVar(&o.keysInUserData, "keys-in-user-data", false, "control-plane: put the cluster's CA keys from --pki-dir in the user data instead of fetching them with --certificate-key-file (for a join more than 2 hours after init's upload, or after an init without --upload-certs)")
	fs.StringVar(&o.nodeName, "node-name", "", "node name (default: the instance hostname from the metadata)")
	fs.StringVar(&o.podCIDR, "pod-cidr", "", "pod network CIDR (default "+userdata.DefaultPodCIDR+")")
	fs.StringVar(&o.serviceCIDR, "service-cidr", "", "service network CIDR (default "+userdata.DefaultServiceCIDR+")")
	fs.StringVar(&o.gzip, "gzip", "auto", "gzip the user data: auto (when needed to fit), always or never")
	fs.StringVar(&o.install, "install", "", "install containerd and kubeadm at boot on plain images: debian or rhel")
	fs.BoolVar(&o.externalCloud, "external-cloud-provider", true, "set cloud-provider=external for the OpenStack cloud controller manager")
	fs.Var(&o.sshKeys, "ssh-authorized-key", "SSH public key for the capi user (repeatable)")
	fs.Var(&o.labels, "node-label", "node label key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// loadOrCreatePKI reads dir, or creates a new PKI there when it holds none (a
// partial or damaged PKI is an error, never replaced).
func loadOrCreatePKI(dir, alg string, stderr io.Writer) (*userdata.ClusterPKI, error) {
	pki, err := userdata.LoadClusterPKI(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return pki, err
	}
	pki, err = userdata.NewClusterPKI(userdata.WithKeyAlgorithm(userdata.KeyAlgorithm(alg)))
	if err != nil {
		return nil, err
	}
	if err := pki.WriteDir(dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "created cluster PKI in %s (CA pin %s)\n", dir, pki.CACertHash())
	return pki, nil
}

// readSecrets fills o.token and o.certKey from their files (or stdin for "-")
// and warns on stderr when a secret came from the command line.
func readSecrets(o *options, stdin io.Reader, stderr io.Writer) error {
	if o.tokenFile == "-" && o.certKeyFile == "-" {
		return fmt.Errorf("%w: only one of --token-file and --certificate-key-file can be - (stdin)", errUsage)
	}
	for _, s := range []struct {
		flag, file string
		dst        *string
	}{{"token", o.tokenFile, &o.token}, {"certificate-key", o.certKeyFile, &o.certKey}} {
		if *s.dst != "" {
			if s.file != "" {
				return fmt.Errorf("%w: --%s and --%s-file are exclusive", errUsage, s.flag, s.flag)
			}
			fmt.Fprintf(stderr, "render-userdata: warning: --%s puts the secret on the command line, visible to other users (ps, /proc); use --%s-file\n", s.flag, s.flag)
			continue
		}
		if s.file == "" {
			continue
		}
		var b []byte
		var err error
		if s.file == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(s.file)
		}
		if err != nil {
			return fmt.Errorf("--%s-file: %w", s.flag, err)
		}
		if *s.dst = strings.TrimSpace(string(b)); *s.dst == "" {
			return fmt.Errorf("%w: --%s-file %s is empty", errUsage, s.flag, s.file)
		}
	}
	return nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "render-userdata:", err)
		return exitUsage
	}
	err = readSecrets(o, stdin, stderr)
	var spec userdata.Spec
	if err == nil {
		spec, err = buildSpec(o, stderr)
	}
	if err == nil {
		var out *userdata.Output
		if out, err = userdata.RenderOutput(spec); err == nil {
			if _, err := stdout.Write(out.Data); err != nil {
				fmt.Fprintln(stderr, "render-userdata: write:", err)
				return exitFailure
			}
			fmt.Fprintf(stderr, "%s user data for role %s: %d bytes (%d base64, limit %d), gzipped=%t\n",
				out.Format, out.Role, len(out.Data), out.Base64Size, userdata.NovaUserDataLimit, out.Gzipped)
			return exitOK
		}
	}
	fmt.Fprintln(stderr, "render-userdata:", err)
	var tl *userdata.TooLargeError
	switch {
	case errors.As(err, &tl):
		return exitTooLarge
	case errors.Is(err, userdata.ErrInvalidSpec), errors.Is(err, userdata.ErrUnsupportedVersion), errors.Is(err, errUsage):
		return exitUsage
	default:
		return exitFailure
	}
}

var errUsage = errors.New("usage")

func buildSpec(o *options, stderr io.Writer) (userdata.Spec, error) {
	m := userdata.Machine{Format: userdata.Format(o.format)}
	switch o.gzip {
	case "auto":
	case "always":
		m.Compression = userdata.GzipAlways
	case "never":
		m.Compression = userdata.GzipNever
	default:
		return nil, fmt.Errorf("%w: --gzip %q is not auto, always or never", errUsage, o.gzip)
	}
	if o.install != "" {
		m.Install = &userdata.Install{OS: userdata.OSFamily(o.install), Containerd: true, Kubernetes: true}
	}
	if len(o.sshKeys) > 0 {
		m.Users = []userdata.User{{Name: "capi", SSHAuthorizedKeys: o.sshKeys, Sudo: "ALL=(ALL) NOPASSWD:ALL"}}
	}
	node := userdata.Node{Name: o.nodeName, ExternalCloudProvider: o.externalCloud}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		node.Labels[k] = v
	}
	var pki *userdata.ClusterPKI
	if o.pkiDir != "" {
		var err error
		if pki, err = loadOrCreatePKI(o.pkiDir, o.keyAlg, stderr); err != nil {
			return nil, err
		}
	}
	var token userdata.BootstrapToken
	if o.token != "" {
		var err error
		if token, err = userdata.ParseBootstrapToken(o.token); err != nil {
			return nil, fmt.Errorf("--token: %w", err)
		}
	}
	hashes := []string{}
	switch {
	case o.caHash != "":
		hashes = append(hashes, o.caHash)
	case pki != nil:
		hashes = append(hashes, pki.CACertHash())
	}
	switch o.role {
	case string(userdata.RoleInit):
		if pki == nil {
			return nil, fmt.Errorf("%w: --role init needs --pki-dir", errUsage)
		}
		if o.token == "" {
			var err error
			if token, err = userdata.NewBootstrapToken(); err != nil {
				return nil, err
			}
			fmt.Fprintf(stderr, "generated bootstrap token %s (the full token is in the user data)\n", token.ID)
		}
		s := userdata.Init{Cluster: o.cluster, KubernetesVersion: o.version, Endpoint: o.endpoint, PKI: pki,
			BootstrapTokens: []userdata.BootstrapToken{token}, Node: node, Machine: m,
			Network: userdata.Network{PodCIDR: o.podCIDR, ServiceCIDR: o.serviceCIDR}}
		if o.uploadCerts || o.certKey != "" {
			s.UploadCertificates, s.CertificateKey = true, o.certKey
			if s.CertificateKey == "" {
				var err error
				if s.CertificateKey, err = userdata.NewCertificateKey(); err != nil {
					return nil, err
				}
				fmt.Fprintln(stderr, "generated a certificate key for --upload-certs (it is in the user data; pass the same to control-plane joins)")
			}
		}
		return s, nil
	case string(userdata.RoleControlPlane):
		if o.token == "" {
			return nil, fmt.Errorf("%w: --role control-plane needs --token", errUsage)
		}
		s := userdata.JoinControlPlane{Cluster: o.cluster, KubernetesVersion: o.version, Endpoint: o.endpoint,
			Token: token, CACertHashes: hashes, CertificateKey: o.certKey, Node: node, Machine: m}
		switch {
		case o.keysInUserData && o.certKey != "":
			return nil, fmt.Errorf("%w: --keys-in-user-data and --certificate-key-file are exclusive: the join fetches the keys with the certificate key or carries them, not both", errUsage)
		case o.keysInUserData:
			s.PKI = pki
		case o.certKey == "":
			return nil, fmt.Errorf("%w: --role control-plane needs --certificate-key-file (the key init uploaded the certificates with: kubeadm init --upload-certs, within 2 hours), or --keys-in-user-data to put the CA keys from --pki-dir in the user data", errUsage)
		}
		return s, nil
	case string(userdata.RoleWorker):
		if o.token == "" {
			return nil, fmt.Errorf("%w: --role worker needs --token", errUsage)
		}
		return userdata.JoinWorker{Cluster: o.cluster, KubernetesVersion: o.version, Endpoint: o.endpoint,
			Token: token, CACertHashes: hashes, Node: node, Machine: m}, nil
	default:
		return nil, fmt.Errorf("%w: --role %q is not init, control-plane or worker", errUsage, o.role)
	}
}
