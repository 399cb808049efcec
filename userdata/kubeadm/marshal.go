package kubeadm

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Documents is the content of one kubeadm configuration file, in the v1beta4 shape
// whatever version it is written in. Absent documents are nil.
type Documents struct {
	// APIVersion is the kubeadm API version the file is (or will be) written in.
	APIVersion APIVersion
	Init       *InitConfiguration
	Cluster    *ClusterConfiguration
	Join       *JoinConfiguration
	Kubelet    *KubeletConfiguration
	KubeProxy  *KubeProxyConfiguration
}

// ErrUnknownAPIVersion is returned for a kubeadm document in a version this package
// does not read or write.
var ErrUnknownAPIVersion = errors.New("unknown kubeadm configuration API version")

// Marshal writes the documents as one multi-document YAML file in d.APIVersion,
// setting apiVersion and kind on each. It fails when a field cannot be expressed in
// that version.
func Marshal(d Documents) ([]byte, error) {
	var docs []any
	switch d.APIVersion {
	case V1Beta4:
		if d.Init != nil {
			c := *d.Init
			c.TypeMeta = metav1.TypeMeta{APIVersion: string(V1Beta4), Kind: KindInitConfiguration}
			docs = append(docs, &c)
		}
		if d.Cluster != nil {
			c := *d.Cluster
			c.TypeMeta = metav1.TypeMeta{APIVersion: string(V1Beta4), Kind: KindClusterConfiguration}
			docs = append(docs, &c)
		}
		if d.Join != nil {
			c := *d.Join
			c.TypeMeta = metav1.TypeMeta{APIVersion: string(V1Beta4), Kind: KindJoinConfiguration}
			docs = append(docs, &c)
		}
	case V1Beta3:
		proxyDisabled := d.Cluster != nil && d.Cluster.Proxy.Disabled
		if d.Init != nil {
			c, err := initTo3(d.Init, proxyDisabled)
			if err != nil {
				return nil, err
			}
			docs = append(docs, c)
		}
		if d.Cluster != nil {
			var timeout *metav1.Duration
			if d.Init != nil && d.Init.Timeouts != nil {
				timeout = d.Init.Timeouts.ControlPlaneComponentHealthCheck
			}
			c, err := clusterTo3(d.Cluster, timeout)
			if err != nil {
				return nil, err
			}
			docs = append(docs, c)
		}
		if d.Join != nil {
			c, err := joinTo3(d.Join)
			if err != nil {
				return nil, err
			}
			docs = append(docs, c)
		}
	default:
		return nil, fmt.Errorf("marshal kubeadm configuration: %w: %q", ErrUnknownAPIVersion, d.APIVersion)
	}
	if d.Kubelet != nil {
		c := *d.Kubelet
		c.TypeMeta = metav1.TypeMeta{APIVersion: KubeletAPIVersion, Kind: KindKubeletConfiguration}
		docs = append(docs, &c)
	}
	if d.KubeProxy != nil {
		c := *d.KubeProxy
		c.TypeMeta = metav1.TypeMeta{APIVersion: KubeProxyAPIVersion, Kind: KindKubeProxyConfiguration}
		docs = append(docs, &c)
	}
	var buf bytes.Buffer
	for i, doc := range docs {
		b, err := yaml.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("marshal kubeadm configuration: %w", err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Unmarshal reads a kubeadm configuration file written in v1beta3 or v1beta4,
// converting v1beta3 documents to the v1beta4 shape. Documents of other kinds
// (ResetConfiguration, UpgradeConfiguration) are ignored; unknown fields are ignored.
func Unmarshal(data []byte) (*Documents, error) {
	out := &Documents{}
	for i, part := range docSeparator.Split(string(data), -1) {
		if len(bytes.TrimSpace([]byte(part))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(part), &tm); err != nil {
			return nil, fmt.Errorf("kubeadm configuration document %d: %w", i, err)
		}
		if err := out.decode(tm, []byte(part)); err != nil {
			return nil, fmt.Errorf("kubeadm configuration document %d (%s %s): %w", i, tm.APIVersion, tm.Kind, err)
		}
	}
	return out, nil
}

func (d *Documents) decode(tm metav1.TypeMeta, b []byte) error {
	switch tm.APIVersion {
	case KubeletAPIVersion:
		if tm.Kind == KindKubeletConfiguration {
			d.Kubelet = &KubeletConfiguration{}
			return yaml.Unmarshal(b, d.Kubelet)
		}
		return nil
	case KubeProxyAPIVersion:
		if tm.Kind == KindKubeProxyConfiguration {
			d.KubeProxy = &KubeProxyConfiguration{}
			return yaml.Unmarshal(b, d.KubeProxy)
		}
		return nil
	case string(V1Beta4), string(V1Beta3):
	default:
		return fmt.Errorf("%w: %q", ErrUnknownAPIVersion, tm.APIVersion)
	}
	v := APIVersion(tm.APIVersion)
	if d.APIVersion != "" && d.APIVersion != v {
		return fmt.Errorf("mixes %s and %s", d.APIVersion, v)
	}
	d.APIVersion = v
	switch {
	case v == V1Beta4 && tm.Kind == KindInitConfiguration:
		d.Init = &InitConfiguration{}
		return yaml.Unmarshal(b, d.Init)
	case v == V1Beta4 && tm.Kind == KindClusterConfiguration:
		d.Cluster = &ClusterConfiguration{}
		return yaml.Unmarshal(b, d.Cluster)
	case v == V1Beta4 && tm.Kind == KindJoinConfiguration:
		d.Join = &JoinConfiguration{}
		return yaml.Unmarshal(b, d.Join)
	case tm.Kind == KindInitConfiguration:
		var c initV1Beta3
		if err := yaml.Unmarshal(b, &c); err != nil {
			return err
		}
		prev := d.Init
		d.Init = initFrom3(&c)
		if prev != nil {
			d.Init.Timeouts = prev.Timeouts
		}
	case tm.Kind == KindClusterConfiguration:
		var c clusterV1Beta3
		if err := yaml.Unmarshal(b, &c); err != nil {
			return err
		}
		d.Cluster = clusterFrom3(&c)
		if t := c.APIServer.TimeoutForControlPlane; t != nil {
			if d.Init == nil {
				d.Init = &InitConfiguration{TypeMeta: metav1.TypeMeta{APIVersion: string(V1Beta4), Kind: KindInitConfiguration}}
			}
			if d.Init.Timeouts == nil {
				d.Init.Timeouts = &Timeouts{}
			}
			d.Init.Timeouts.ControlPlaneComponentHealthCheck = t
		}
	case tm.Kind == KindJoinConfiguration:
		var c joinV1Beta3
		if err := yaml.Unmarshal(b, &c); err != nil {
			return err
		}
		d.Join = joinFrom3(&c)
	}
	return nil
}
