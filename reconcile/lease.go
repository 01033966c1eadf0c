package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/kube"
)

// LeaseLocker is a Locker backed by one coordination.k8s.io Lease per environment in the
// target cluster's gitopsd-system namespace. The holder renews it at every reconcile; an
// instance that stops renewing loses it after Duration, and another takes over.
//
// client-go's leaderelection runs a loop per lock and calls back on changes; gitopsd only
// needs "may I apply now?" at the start of each reconcile, so it reads and updates the
// Lease directly, with the API server's optimistic concurrency deciding races.
type LeaseLocker struct {
	Clusters Clusters
	// Identity names this instance in the Lease (host and data directory).
	Identity string
	// Duration is how long a lease holds without renewal.
	Duration time.Duration
}

var (
	leasesGVR     = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// LeaseName is the Lease of repo/env: opaque but stable; its annotations say whose it is.
func LeaseName(repo, env string) string {
	sum := sha256.Sum256([]byte(repo + "/" + env))
	return "gitopsd-" + hex.EncodeToString(sum[:])[:20]
}

// Acquire takes or renews the lease of repo/env in cluster.
func (l *LeaseLocker) Acquire(ctx context.Context, repo, env, cluster string) (bool, string, error) {
	cl, err := l.Clusters.Client(cluster)
	if err != nil {
		return false, "", err
	}
	leases := cl.Dynamic().Resource(leasesGVR).Namespace(kube.InventoryNamespace)
	name := LeaseName(repo, env)
	now := metav1.NewMicroTime(time.Now())
	secs := int32(l.Duration / time.Second)

	u, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if err := ensureNamespace(ctx, cl); err != nil {
			return false, "", err
		}
		lease := &coordinationv1.Lease{
			TypeMeta: metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: kube.InventoryNamespace,
				Annotations: map[string]string{kube.RepoAnnotation: repo, kube.EnvAnnotation: env}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &l.Identity, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
		}
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(lease)
		if err != nil {
			return false, "", err
		}
		_, err = leases.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return l.Acquire(ctx, repo, env, cluster)
		}
		return err == nil, l.Identity, err
	}
	if err != nil {
		return false, "", err
	}
	var lease coordinationv1.Lease
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &lease); err != nil {
		return false, "", fmt.Errorf("lease %s: %w", name, err)
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	expired := true
	if lease.Spec.RenewTime != nil && lease.Spec.LeaseDurationSeconds != nil {
		expired = time.Since(lease.Spec.RenewTime.Time) > time.Duration(*lease.Spec.LeaseDurationSeconds)*time.Second
	}
	if holder != l.Identity && !expired {
		return false, holder, nil
	}
	if holder != l.Identity {
		lease.Spec.AcquireTime = &now
	}
	lease.Spec.HolderIdentity, lease.Spec.RenewTime, lease.Spec.LeaseDurationSeconds = &l.Identity, &now, &secs
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&lease)
	if err != nil {
		return false, "", err
	}
	// The update carries the resourceVersion we read: if another instance renewed or took
	// the lease meanwhile, the API server refuses it with a conflict and we do not hold it.
	if _, err := leases.Update(ctx, &unstructured.Unstructured{Object: obj}, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			return false, holder, nil
		}
		return false, "", err
	}
	return true, l.Identity, nil
}

func ensureNamespace(ctx context.Context, cl *kube.Client) error {
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: kube.InventoryNamespace}}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ns)
	if err != nil {
		return err
	}
	_, err = cl.Dynamic().Resource(namespacesGVR).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
