// Package fleet publishes what rocm-patch knows about one node to the tools
// that run a cluster: node labels for Kubernetes node-feature-discovery (a
// local feature file), and metrics for the Prometheus node_exporter textfile
// collector.
//
// The builders are pure: Labels, FeatureFile, RecentCrashRate, MergeStats and
// Metrics take a doctor report and history summaries and return values or
// text. Only WriteFeatureFile and WriteMetricsFile touch the disk, and both
// write a hidden temporary file in the target folder and rename it, so that
// neither node-feature-discovery (which skips dot-files) nor node_exporter
// (which reads only *.prom) can see a half-written file.
//
// # Labels
//
// Every label is under LabelPrefix ("rocm-patch.io/"):
//
//	gpu.count           GPUs a training run on the node can use ("0" when none)
//	gpu.family          ISA family of the riskiest of them ("RDNA2"); RDNA1 and
//	                    RDNA2 are told apart, which AMD's own labeller cannot
//	gpu.gfx             that GPU's gfx target ("gfx1031")
//	gpu.family.<F>      "true" for every family present, so that a node with an
//	                    RDNA2 and an RDNA3 GPU matches a selector on either
//	risk                none, low, medium or high, as doctor judges the node
//	policy              the policy the labels were computed for (mitigate or cpu)
//	device              where that policy runs training: gpu or cpu
//	crash.percent       GPU crash rate of the last runs, a whole percentage
//	crash.attempts      how many GPU attempts that rate rests on
//
// The crash rate is a whole number because Kubernetes node affinity compares
// numbers only with Gt and Lt, which take integers; a non-zero rate is never
// rounded down to 0. Both crash labels are left out when no history was read
// or the last runs made no GPU attempt.
package fleet
