package infra

// CriticalPath is the longest chain of dependent API calls the last
// Ensure, Plan or Delete of inf made.
func CriticalPath(inf *Infra) int64 { return inf.lastDepth.Load() }
