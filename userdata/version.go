package userdata

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/openstrap/openstrap/userdata/kubeadm"
)

// Kubernetes minor versions that bound the kubeadm configuration API choice:
// kubeadm reads v1beta3 from v1.22 to v1.36 and writes v1beta4 from v1.31 on (v1.37
// reads only v1beta4). openstrap writes v1beta4 whenever kubeadm supports it.
const (
	minMinorV1Beta3 = 22
	minMinorV1Beta4 = 31
)

// KubeadmAPIVersion returns the kubeadm configuration API version openstrap writes
// for a Kubernetes version ("v1.37.2" or "1.37.2"): v1beta4 for v1.31 and newer,
// v1beta3 for v1.22 to v1.30. Anything else is ErrUnsupportedVersion.
func KubeadmAPIVersion(kubernetesVersion string) (kubeadm.APIVersion, error) {
	v, err := parseKubernetesVersion(kubernetesVersion)
	if err != nil {
		return "", err
	}
	if v.Major() != 1 || v.Minor() < minMinorV1Beta3 {
		return "", fmt.Errorf("%w: %s: openstrap writes kubeadm configuration for Kubernetes v1.%d and newer 1.x releases", ErrUnsupportedVersion, kubernetesVersion, minMinorV1Beta3)
	}
	if v.Minor() < minMinorV1Beta4 {
		return kubeadm.V1Beta3, nil
	}
	return kubeadm.V1Beta4, nil
}

func parseKubernetesVersion(s string) (*version.Version, error) {
	if s == "" {
		return nil, fieldErr("KubernetesVersion", "required, e.g. v1.37.2")
	}
	v, err := version.ParseSemantic(s)
	if err != nil {
		return nil, fieldErr("KubernetesVersion", "%q is not a semantic version like v1.37.2", s)
	}
	return v, nil
}

// normalizeVersion returns "v"+semver, the form kubeadm's kubernetesVersion wants.
func normalizeVersion(s string) string {
	if len(s) > 0 && s[0] != 'v' {
		return "v" + s
	}
	return s
}
