package userdata

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
)

// installSteps returns the files and commands that prepare a plain image for
// kubeadm: no swap, the modules and sysctls kubeadm's preflight checks want, and
// optionally containerd and pinned kubelet/kubeadm/kubectl from pkgs.k8s.io.
func installSteps(in Install, kubernetesVersion string) ([]File, []string) {
	files := []File{
		{Path: "/etc/modules-load.d/k8s.conf", Owner: "root:root", Permissions: "0644", Content: []byte("overlay\nbr_netfilter\n")},
		{Path: "/etc/sysctl.d/99-kubernetes.conf", Owner: "root:root", Permissions: "0644", Content: []byte(
			"net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n")},
	}
	cmds := []string{
		`swapoff -a`,
		`sed -ri '/\sswap\s/s/^#?/#/' /etc/fstab`,
		`modprobe overlay`,
		`modprobe br_netfilter`,
		`sysctl --system`,
	}
	v, _ := version.ParseSemantic(kubernetesVersion)
	minor := fmt.Sprintf("v%d.%d", v.Major(), v.Minor())
	pkg := strings.TrimPrefix(normalizeVersion(kubernetesVersion), "v")
	repo := "https://pkgs.k8s.io/core:/stable:/" + minor
	containerdConfig := `mkdir -p /etc/containerd && containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' > /etc/containerd/config.toml && systemctl restart containerd && systemctl enable containerd`
	switch in.OS {
	case Debian:
		if in.Kubernetes {
			files = append(files, File{Path: "/etc/apt/sources.list.d/kubernetes.list", Owner: "root:root", Permissions: "0644",
				Content: []byte("deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] " + repo + "/deb/ /\n")})
		}
		cmds = append(cmds, `export DEBIAN_FRONTEND=noninteractive`,
			`apt-get update && apt-get install -y apt-transport-https ca-certificates curl gpg`)
		if in.Containerd {
			cmds = append(cmds, `apt-get install -y containerd`, containerdConfig)
		}
		if in.Kubernetes {
			cmds = append(cmds,
				`mkdir -p -m 755 /etc/apt/keyrings`,
				`curl -fsSL `+repo+`/deb/Release.key | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg`,
				`apt-get update`,
				fmt.Sprintf(`apt-get install -y kubelet=%[1]s-* kubeadm=%[1]s-* kubectl=%[1]s-*`, pkg),
				`apt-mark hold kubelet kubeadm kubectl`,
				`systemctl enable kubelet`)
		}
	case RHEL:
		if in.Kubernetes {
			files = append(files, File{Path: "/etc/yum.repos.d/kubernetes.repo", Owner: "root:root", Permissions: "0644", Content: []byte(
				"[kubernetes]\nname=Kubernetes\nbaseurl=" + repo + "/rpm/\nenabled=1\ngpgcheck=1\ngpgkey=" + repo +
					"/rpm/repodata/repomd.xml.key\nexclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n")})
		}
		cmds = append(cmds, `setenforce 0 || true`, `sed -i 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config`)
		if in.Containerd {
			cmds = append(cmds,
				`dnf install -y dnf-plugins-core`,
				`dnf config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo`,
				`dnf install -y containerd.io`, containerdConfig)
		}
		if in.Kubernetes {
			cmds = append(cmds,
				fmt.Sprintf(`dnf install -y kubelet-%[1]s kubeadm-%[1]s kubectl-%[1]s --disableexcludes=kubernetes`, pkg),
				`systemctl enable kubelet`)
		}
	}
	return files, cmds
}
