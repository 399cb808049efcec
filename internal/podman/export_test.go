package podman

// ObjectsLifecycle runs the engine object test on an Engine the external
// tests start (Docker's, from internal/dockertest, which imports podman).
var ObjectsLifecycle = objectsLifecycle

// DockerCreateArgs exposes the flag translation to the external tests.
var DockerCreateArgs = func(args []string) []string {
	out, later := dockerCreateArgs(args)
	for _, at := range later {
		out = append(out, "connect:"+at.network+":"+at.ip)
	}
	return out
}
