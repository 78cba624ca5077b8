package lifecycle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/seldon-ab/provisioner/internal/rollout"
)

// ErrDeclined is returned when the user answers no to a confirmation.
var ErrDeclined = errors.New("declined: nothing was changed")

// PreviewOptions are the preview's own flags.
type PreviewOptions struct {
	// Diff shows every property that changes, as `pulumi preview --diff`.
	Diff bool
	// ExpectNoChanges fails the preview if anything would change (drift detection).
	ExpectNoChanges bool
}

// Preview shows what an update would do, with the policy pack's verdict; nothing is changed.
func (s *Stack) Preview(ctx context.Context, po PreviewOptions) (auto.PreviewResult, error) {
	refresh := s.opts.Refresh
	recorded, live := s.clusterIdentity(ctx)
	if recreated(recorded, live) {
		s.logf("the cluster was recreated (kube-system uid %s; the state describes %s): previewing with a refresh, as the next update will start from an empty state", live, recorded)
		refresh = true
	} else if err := s.refuseDeadLock(); err != nil {
		return auto.PreviewResult{}, err
	}
	opts, err := s.previewOptions(po.Diff, refresh)
	if err != nil {
		return auto.PreviewResult{}, err
	}
	if po.ExpectNoChanges {
		opts = append(opts, optpreview.ExpectNoChanges())
	}
	return s.stack.Preview(ctx, opts...)
}

func (s *Stack) previewOptions(diff, refresh bool, streams ...chan<- events.EngineEvent) ([]optpreview.Option, error) {
	pack, err := s.policyPack()
	if err != nil {
		return nil, err
	}
	opts := []optpreview.Option{optpreview.ConfigFile(s.opts.ConfigFile), optpreview.PolicyPacks(pack),
		optpreview.ProgressStreams(s.opts.Stdout), optpreview.ErrorProgressStreams(s.opts.Stderr), optpreview.Color(s.color())}
	if diff {
		opts = append(opts, optpreview.Diff())
	}
	if refresh {
		opts = append(opts, optpreview.Refresh())
	}
	opts = append(opts, optpreview.EventStreams(append(s.observers(), streams...)...))
	return opts, nil
}

// Up brings the stack to what its config declares. It previews first, with the policy pack, so a stack the
// policies refuse is stopped before anything is touched; attended, it shows that preview and asks. Then:
//   - when the stack seeds artifacts and no command resource runs the seeds (commands.enabled false), the
//     program runs them in this process during the update, once the buckets exist and before any Model (an
//     agent that finds no files fails its Model for good): the very command lines a command resource would run;
//   - when it switches NGINX controllers (ingress-nginx and NGINX Gateway Fabric), the old one's hold on the
//     ingress IP is released first (handOverIP);
//   - when it renames one of several experiments, the old Experiment is deleted first (retireRenamed);
//   - when the update creates, removes or gives a new version to Seldon Models or Experiments, it returns only
//     once calls through the ingress show the change (rollout.Prove): Seldon never writes observedGeneration, so
//     the Ready condition the engine waited on may predate the change;
//   - when verification is on and no command resource runs it, the verifier runs last, and its verdict is
//     the update's: a failed verification fails Up and names the broken layer.
func (s *Stack) Up(ctx context.Context) (auto.UpResult, error) {
	if err := s.prepareChange(ctx); err != nil {
		return auto.UpResult{}, err
	}
	plan := newEventLog()
	if _, err := s.preview(ctx, !s.opts.Yes, plan.ch); err != nil {
		return auto.UpResult{}, err
	}
	if err := s.confirm(fmt.Sprintf("Do you want to perform this update of stack %s?", s.opts.Stack)); err != nil {
		return auto.UpResult{}, err
	}
	before := s.snapshot(ctx, plan.changes())
	if retiring := retiredEntry(plan.steps()); retiring != "" {
		if err := s.handOverIP(ctx, retiring); err != nil {
			return auto.UpResult{}, err
		}
	}
	if renamed := rollout.RenamedExperiments(plan.steps()); len(renamed) > 0 {
		if err := s.retireRenamed(ctx, renamed); err != nil {
			return auto.UpResult{}, err
		}
	}
	return s.update(ctx, before)
}

// preview runs the whole program once with the policy pack before an update; its steps go to plan too.
func (s *Stack) preview(ctx context.Context, diff bool, plan chan<- events.EngineEvent) (auto.PreviewResult, error) {
	opts, err := s.previewOptions(diff, s.opts.Refresh, plan)
	if err != nil {
		return auto.PreviewResult{}, err
	}
	res, err := s.stack.Preview(ctx, opts...)
	if err != nil {
		return res, fmt.Errorf("preview of stack %s: %w", s.opts.Stack, err)
	}
	return res, nil
}

// update runs the update's steps (see Up) without previewing again; before is what served before it.
func (s *Stack) update(ctx context.Context, before *rollout.Before) (auto.UpResult, error) {
	pack, err := s.policyPack()
	if err != nil {
		return auto.UpResult{}, err
	}
	// ShowSecrets(false) here and in destroy and refresh: the result's summary then holds no decrypted config, and
	// the history call the Automation API makes after each operation skips the passphrase's key derivation
	// (`pulumi stack history --json`: 0.10-0.14 s here, against 0.26-0.31 s with --show-secrets).
	opts := []optup.Option{optup.ConfigFile(s.opts.ConfigFile), optup.ShowSecrets(false),
		optup.ProgressStreams(s.opts.Stdout), optup.ErrorProgressStreams(s.opts.Stderr), optup.Color(s.color())}
	if s.opts.Refresh {
		opts = append(opts, optup.Refresh())
	}
	steps := newEventLog()
	opts = append(opts, optup.PolicyPacks(pack), optup.EventStreams(append(s.observers(), steps.ch)...))
	res, err := s.stack.Up(ctx, opts...)
	if err != nil {
		return res, err
	}
	if err := s.proveRollout(ctx, res.Outputs, steps.changes(), before); err != nil {
		return res, err
	}
	if s.verificationIsAStep() {
		if err := s.verify(ctx, res.Outputs); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Destroy deletes every object of the stack, in the reverse of the dependency order: the Experiment and Models
// first, while Seldon's scheduler can still release their finalizers. Attended, it asks first.
func (s *Stack) Destroy(ctx context.Context) (auto.DestroyResult, error) {
	if err := s.prepareChange(ctx); err != nil {
		return auto.DestroyResult{}, err
	}
	if err := s.confirm(fmt.Sprintf("Do you want to destroy every resource of stack %s?", s.opts.Stack)); err != nil {
		return auto.DestroyResult{}, err
	}
	opts := []optdestroy.Option{optdestroy.ConfigFile(s.opts.ConfigFile), optdestroy.ShowSecrets(false), optdestroy.ProgressStreams(s.opts.Stdout),
		optdestroy.ErrorProgressStreams(s.opts.Stderr), optdestroy.Color(s.color())}
	opts = append(opts, optdestroy.EventStreams(s.observers()...))
	return s.stack.Destroy(ctx, opts...)
}

// Rebuild is Destroy then Up, timed: the "tear down and rebuild after the demo" job. It asks once.
func (s *Stack) Rebuild(ctx context.Context) (auto.UpResult, error) {
	if err := s.confirm(fmt.Sprintf("Do you want to destroy stack %s and bring it up again?", s.opts.Stack)); err != nil {
		return auto.UpResult{}, err
	}
	unattended := *s
	unattended.opts.Yes = true
	start := time.Now()
	if _, err := unattended.Destroy(ctx); err != nil {
		return auto.UpResult{}, err
	}
	destroyed := time.Since(start)
	res, err := unattended.Up(ctx)
	if err == nil {
		s.logf("rebuild took %.1f s (destroy %.1f s, up %.1f s)", time.Since(start).Seconds(), destroyed.Seconds(), (time.Since(start) - destroyed).Seconds())
	}
	return res, err
}

// Refresh reads every object of the stack from the cluster into its state.
func (s *Stack) Refresh(ctx context.Context) (auto.RefreshResult, error) {
	if err := s.prepareChange(ctx); err != nil {
		return auto.RefreshResult{}, err
	}
	return s.refresh(ctx)
}

func (s *Stack) refresh(ctx context.Context, extra ...optrefresh.Option) (auto.RefreshResult, error) {
	opts := append([]optrefresh.Option{optrefresh.ConfigFile(s.opts.ConfigFile), optrefresh.ShowSecrets(false), optrefresh.ProgressStreams(s.opts.Stdout),
		optrefresh.ErrorProgressStreams(s.opts.Stderr), optrefresh.Color(s.color())}, extra...)
	opts = append(opts, optrefresh.EventStreams(s.observers()...))
	return s.stack.Refresh(ctx, opts...)
}

// Recover makes a stack usable after an interrupted update: it releases the lock of a process that no longer
// runs on this machine (never a live one), deletes what the update was still creating (pending.go), and settles the
// state from the cluster (`pulumi refresh --clear-pending-creates`).
func (s *Stack) Recover(ctx context.Context) error {
	recorded, live := s.clusterIdentity(ctx)
	if recreated(recorded, live) {
		return s.claimCluster(ctx, recorded, live)
	}
	if err := s.releaseDeadLocks(); err != nil {
		return err
	}
	pending, err := s.pendingCreates(ctx)
	if err != nil {
		return err
	}
	if err := s.deletePending(ctx, pending, s.interruptedSince(ctx)); err != nil {
		return err
	}
	if _, err := s.refresh(ctx, optrefresh.ClearPendingCreates()); err != nil {
		return err
	}
	s.logf("recovered; run the update again (seldon-ab up --stack %s)", s.opts.Stack)
	return nil
}

// prepareChange runs the two rules before a command that changes the stack: the state must describe the live
// cluster (claimCluster), and no dead process may hold its lock.
func (s *Stack) prepareChange(ctx context.Context) error {
	recorded, live := s.clusterIdentity(ctx)
	if !recreated(recorded, live) {
		if err := s.refuseDeadLock(); err != nil {
			return err
		}
	}
	return s.claimCluster(ctx, recorded, live)
}

// observers is the event channel of one operation, when Options.Observe gives one.
func (s *Stack) observers() []chan<- events.EngineEvent {
	if s.opts.Observe == nil {
		return nil
	}
	if ch := s.opts.Observe(); ch != nil {
		return []chan<- events.EngineEvent{ch}
	}
	return nil
}

// confirm asks question unless the run is unattended; anything but yes declines.
func (s *Stack) confirm(question string) error {
	if s.opts.Yes {
		return nil
	}
	fmt.Fprintf(s.opts.Stdout, "%s [yes/no] ", question)
	answer, err := bufio.NewReader(s.opts.Stdin).ReadString('\n')
	if err != nil && answer == "" {
		return fmt.Errorf("%w (no answer on standard input; pass --yes to run unattended)", ErrDeclined)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return ErrDeclined
}

// color is what the CLI's progress gets: colours on a terminal, none in a log.
func (s *Stack) color() string {
	if f, ok := s.opts.Stdout.(*os.File); ok && isTerminal(f) {
		return "always"
	}
	return "never"
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
