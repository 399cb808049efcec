package cloudtest

// RequireSimIn is RequireSim with the caller's directory and the gap list
// given, for tests.
var RequireSimIn = requireSim
