package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runKadm calls franz-go's admin client (kadm has no integration tests of its own; franz-go's
// kgo tests cover the producer and consumer) against the broker, plus the kgo consumers and
// transactional producer the group and transaction admin calls need.
func runKadm(r *runner, brokers []string) {
	comment("franz-go v1.22.3, kadm v1.20.0")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		r.check("connect", time.Second, func(context.Context) error { return err })
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	suite := r.suite
	topic := name(suite, "admin")

	r.check("create topics (configs, duplicate, validate-only)", 30*time.Second, func(ctx context.Context) error {
		resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, topic)
		if err != nil {
			return err
		}
		if resp.Err != nil || resp.NumPartitions != 3 {
			return fmt.Errorf("CreateTopic: %+v", resp)
		}
		resp, _ = adm.CreateTopic(ctx, 3, 1, nil, topic)
		if !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("second create: want TOPIC_ALREADY_EXISTS, got %v", resp.Err)
		}
		v := name(suite, "validate")
		vr, err := adm.ValidateCreateTopics(ctx, 1, 1, nil, v)
		if err != nil {
			return err
		}
		if err := vr.Error(); err != nil {
			return fmt.Errorf("validate-only: %w", err)
		}
		td, err := adm.ListTopics(ctx, v)
		if err != nil {
			return err
		}
		if td.Has(v) && td[v].Err == nil {
			return fmt.Errorf("validate-only created %s", v)
		}
		bad, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("bogus")}, name(suite, "bad"))
		if !errors.Is(bad.Err, kerr.InvalidConfig) {
			return fmt.Errorf("invalid config: want INVALID_CONFIG, got %v", bad.Err)
		}
		return nil
	})
	r.check("list topics, metadata, list brokers", 30*time.Second, func(ctx context.Context) error {
		return eventually(ctx, func() error {
			td, err := adm.ListTopics(ctx, topic)
			if err != nil {
				return err
			}
			if !td.Has(topic) || len(td[topic].Partitions) != 3 || td[topic].ID == [16]byte{} {
				return fmt.Errorf("ListTopics: %+v", td)
			}
			all, err := adm.ListTopicsWithInternal(ctx)
			if err != nil {
				return err
			}
			if !all.Has(topic) {
				return fmt.Errorf("ListTopicsWithInternal lacks %s", topic)
			}
			bs, err := adm.ListBrokers(ctx)
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				return errors.New("no brokers")
			}
			return nil
		})
	})
	describe := func(ctx context.Context, key string) (string, error) {
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return "", err
		}
		rc, err := rcs.On(topic, nil)
		if err != nil {
			return "", err
		}
		if rc.Err != nil {
			return "", rc.Err
		}
		for _, c := range rc.Configs {
			if c.Key == key {
				return c.MaybeValue(), nil
			}
		}
		return "", fmt.Errorf("%s not described", key)
	}
	r.check("describe topic and broker configs", 30*time.Second, func(ctx context.Context) error {
		if v, err := describe(ctx, "retention.ms"); err != nil || v != "3600000" {
			return fmt.Errorf("retention.ms = %q (%v)", v, err)
		}
		rcs, err := adm.DescribeBrokerConfigs(ctx)
		if err != nil {
			return err
		}
		if len(rcs) == 0 || rcs[0].Err != nil || len(rcs[0].Configs) == 0 {
			return fmt.Errorf("DescribeBrokerConfigs: %+v", rcs)
		}
		return nil
	})
	r.check("alter topic configs (incremental, then whole-state)", 30*time.Second, func(ctx context.Context) error {
		ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: kadm.StringPtr("10485760")},
			{Op: kadm.DeleteConfig, Name: "retention.ms"}}, topic)
		if err != nil {
			return err
		}
		if len(ar) != 1 || ar[0].Err != nil {
			return fmt.Errorf("IncrementalAlterConfigs: %+v", ar)
		}
		if v, err := describe(ctx, "segment.bytes"); err != nil || v != "10485760" {
			return fmt.Errorf("segment.bytes = %q (%v)", v, err)
		}
		if v, err := describe(ctx, "retention.ms"); err != nil || v == "3600000" {
			return fmt.Errorf("retention.ms after delete = %q (%v)", v, err)
		}
		ar, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("2000000")}}, topic)
		if err != nil {
			return err
		}
		if len(ar) != 1 || ar[0].Err != nil {
			return fmt.Errorf("AlterConfigs: %+v", ar)
		}
		if v, err := describe(ctx, "segment.bytes"); err != nil || v == "10485760" {
			return fmt.Errorf("AlterConfigs kept segment.bytes %q (%v); it replaces the whole set", v, err)
		}
		return nil
	})
	r.check("create partitions (3 -> 5)", 30*time.Second, func(ctx context.Context) error {
		cr, err := adm.CreatePartitions(ctx, 2, topic)
		if err != nil {
			return err
		}
		if err := cr.Error(); err != nil {
			return err
		}
		return eventually(ctx, func() error {
			td, err := adm.ListTopics(ctx, topic)
			if err != nil || len(td[topic].Partitions) != 5 {
				return fmt.Errorf("partitions: %d (%v)", len(td[topic].Partitions), err)
			}
			return nil
		})
	})

	// Records for the offset calls: 10 into partition 0, with timestamps an hour apart.
	dataTopic := name(suite, "data")
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond)
	r.check("produce (kgo, acks=all, idempotent) + list start/end/time/max-timestamp offsets", 30*time.Second, func(ctx context.Context) error {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, dataTopic); err != nil {
			return err
		}
		for i := 0; i < 10; i++ {
			rec := &kgo.Record{Topic: dataTopic, Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Hour)}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				return err
			}
		}
		so, err := adm.ListStartOffsets(ctx, dataTopic)
		if err != nil {
			return err
		}
		eo, err := adm.ListEndOffsets(ctx, dataTopic)
		if err != nil {
			return err
		}
		if s, _ := so.Lookup(dataTopic, 0); s.Offset != 0 || s.Err != nil {
			return fmt.Errorf("start offset %+v", s)
		}
		if e, _ := eo.Lookup(dataTopic, 0); e.Offset != 10 || e.Err != nil {
			return fmt.Errorf("end offset %+v", e)
		}
		to, err := adm.ListOffsetsAfterMilli(ctx, base.Add(150*time.Minute).UnixMilli(), dataTopic)
		if err != nil {
			return err
		}
		if o, _ := to.Lookup(dataTopic, 0); o.Offset != 3 || o.Err != nil {
			return fmt.Errorf("offset after 2.5h: %+v, want 3", o)
		}
		mo, err := adm.ListMaxTimestampOffsets(ctx, dataTopic)
		if err != nil {
			return err
		}
		if o, _ := mo.Lookup(dataTopic, 0); o.Offset != 9 || o.Err != nil || o.Timestamp != base.Add(9*time.Hour).UnixMilli() {
			return fmt.Errorf("max timestamp offset %+v, want 9", o)
		}
		return nil
	})
	r.check("delete records", 30*time.Second, func(ctx context.Context) error {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: dataTopic, Partition: 0, At: 4, LeaderEpoch: -1})
		dr, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			return err
		}
		if err := dr.Error(); err != nil {
			return err
		}
		if d, ok := dr.Lookup(dataTopic, 0); !ok || d.LowWatermark != 4 {
			return fmt.Errorf("DeleteRecords low watermark %+v", d)
		}
		so, err := adm.ListStartOffsets(ctx, dataTopic)
		if err != nil {
			return err
		}
		if s, _ := so.Lookup(dataTopic, 0); s.Offset != 4 {
			return fmt.Errorf("start offset after DeleteRecords %+v", s)
		}
		return nil
	})
	r.check("describe log dirs", 30*time.Second, func(ctx context.Context) error {
		ts := kadm.TopicsSet{}
		ts.Add(dataTopic, 0)
		all, err := adm.DescribeAllLogDirs(ctx, ts)
		if err != nil {
			return err
		}
		found := false
		all.Each(func(d kadm.DescribedLogDir) {
			if d.Err != nil {
				err = fmt.Errorf("log dir %s: %w", d.Dir, d.Err)
			}
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic == dataTopic && p.Size > 0 {
					found = true
				}
			})
		})
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s[0] not described: %+v", dataTopic, all)
		}
		return nil
	})

	group := name(suite, "g")
	r.check("commit/fetch offsets, lag, delete offsets (no members)", 30*time.Second, func(ctx context.Context) error {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: dataTopic, Partition: 0, At: 7, LeaderEpoch: -1, Metadata: "m"})
		if err := adm.CommitAllOffsets(ctx, group, os); err != nil {
			return err
		}
		fo, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		if o, ok := fo.Lookup(dataTopic, 0); !ok || o.At != 7 || o.Metadata != "m" {
			return fmt.Errorf("FetchOffsets: %+v", o)
		}
		lags, err := adm.Lag(ctx, group)
		if err != nil {
			return err
		}
		l := lags[group]
		if l.Error() != nil || l.Lag.Total() != 3 {
			return fmt.Errorf("Lag: total %d (%v), want 3", l.Lag.Total(), l.Error())
		}
		ts := kadm.TopicsSet{}
		ts.Add(dataTopic, 0)
		dr, err := adm.DeleteOffsets(ctx, group, ts)
		if err != nil {
			return err
		}
		if err := dr.Error(); err != nil {
			return err
		}
		fo, err = adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		if o, ok := fo.Lookup(dataTopic, 0); ok && o.At >= 0 {
			return fmt.Errorf("offset still there after DeleteOffsets: %+v", o)
		}
		return nil
	})
	consumeOne := func(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
		c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(dataTopic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
		if err != nil {
			return nil, err
		}
		for ctx.Err() == nil {
			fs := c.PollFetches(ctx)
			if fs.NumRecords() > 0 {
				return c, nil
			}
			if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
				c.Close()
				return nil, errs[0].Err
			}
		}
		c.Close()
		return nil, ctx.Err()
	}
	r.check("classic group member: list/describe groups", 60*time.Second, func(ctx context.Context) error {
		c, err := consumeOne(ctx, kgo.ConsumerGroup(group), kgo.InstanceID("kadm-static"))
		if err != nil {
			return err
		}
		defer c.Close()
		lg, err := adm.ListGroups(ctx)
		if err != nil {
			return err
		}
		if _, ok := lg[group]; !ok {
			return fmt.Errorf("ListGroups lacks %s", group)
		}
		return eventually(ctx, func() error {
			dg, err := adm.DescribeGroups(ctx, group)
			if err != nil {
				return err
			}
			g := dg[group]
			if g.Err != nil || g.State != "Stable" || len(g.Members) != 1 || g.Members[0].InstanceID == nil {
				return fmt.Errorf("DescribeGroups: %+v", g)
			}
			return nil
		})
	})
	g848 := name(suite, "g848")
	r.check("KIP-848 group member: describe consumer groups", 60*time.Second, func(ctx context.Context) error {
		c, err := consumeOne(ctx, kgo.ConsumerGroup(g848), kgo.ServerSideBalancer())
		if err != nil {
			return err
		}
		defer c.Close()
		return eventually(ctx, func() error {
			dg, err := adm.DescribeConsumerGroups(ctx, g848)
			if err != nil {
				return err
			}
			g := dg[g848]
			if g.Err != nil || g.State != "Stable" || len(g.Members) != 1 {
				return fmt.Errorf("DescribeConsumerGroups: %+v", g)
			}
			return nil
		})
	})
	r.check("leave group (remove static member) + delete groups", 30*time.Second, func(ctx context.Context) error {
		lr, err := adm.LeaveGroup(ctx, kadm.LeaveGroup(group).InstanceIDs("kadm-static"))
		if err != nil {
			return err
		}
		if err := lr.Error(); err != nil && !errors.Is(err, kerr.UnknownMemberID) {
			return fmt.Errorf("LeaveGroup: %w", err)
		}
		return eventually(ctx, func() error {
			dr, err := adm.DeleteGroups(ctx, group, g848)
			if err != nil {
				return err
			}
			return dr.Error()
		})
	})

	txnID := name(suite, "txn")
	r.check("transactional producer: describe/list transactions, describe producers", 60*time.Second, func(ctx context.Context) error {
		p, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(dataTopic))
		if err != nil {
			return err
		}
		defer p.Close()
		if err := p.BeginTransaction(); err != nil {
			return err
		}
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("in-txn")}).FirstErr(); err != nil {
			return err
		}
		dt, err := adm.DescribeTransactions(ctx, txnID)
		if err != nil {
			return err
		}
		t, ok := dt[txnID]
		if !ok || t.Err != nil || t.State != "Ongoing" || len(t.Topics[dataTopic]) != 1 {
			return fmt.Errorf("DescribeTransactions while open: %+v", t)
		}
		lt, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
		if err != nil {
			return err
		}
		if _, ok := lt[txnID]; !ok {
			return fmt.Errorf("ListTransactions(Ongoing) lacks %s", txnID)
		}
		ts := kadm.TopicsSet{}
		ts.Add(dataTopic, 0)
		dp, err := adm.DescribeProducers(ctx, ts)
		if err != nil {
			return err
		}
		found := false
		dp.EachProducer(func(pr kadm.DescribedProducer) {
			if pr.ProducerID == t.ProducerID && pr.CurrentTxnStartOffset >= 0 {
				found = true
			}
		})
		if !found {
			return fmt.Errorf("DescribeProducers lacks producer %d with an open transaction: %+v", t.ProducerID, dp)
		}
		if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return err
		}
		return eventually(ctx, func() error {
			dt, err := adm.DescribeTransactions(ctx, txnID)
			if err != nil {
				return err
			}
			if s := dt[txnID].State; s != "CompleteCommit" {
				return fmt.Errorf("state after commit %q", s)
			}
			return nil
		})
	})
	r.check("SCRAM users: alter/describe/delete", 30*time.Second, func(ctx context.Context) error {
		user := name(suite, "user")
		ar, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "pw"}})
		if err != nil {
			return err
		}
		if err := ar.Error(); err != nil {
			return err
		}
		ds, err := adm.DescribeUserSCRAMs(ctx, user)
		if err != nil {
			return err
		}
		d := ds[user]
		if d.Err != nil || len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha512 || d.CredInfos[0].Iterations != 4096 {
			return fmt.Errorf("DescribeUserSCRAMs: %+v", d)
		}
		ar, err = adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: user, Mechanism: kadm.ScramSha512}}, nil)
		if err != nil {
			return err
		}
		if err := ar.Error(); err != nil {
			return err
		}
		ds, err = adm.DescribeUserSCRAMs(ctx, user)
		if err == nil && ds[user].Err == nil {
			return fmt.Errorf("user still described after delete: %+v", ds[user])
		}
		return nil
	})
	r.check("describe ACLs without an authorizer: SECURITY_DISABLED", 30*time.Second, func(ctx context.Context) error {
		// The raw request with an all-matching filter (kadm's builder expands filters
		// client-side; the broker's answer is what this checks).
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType = kmsg.ACLResourceTypeAny
		req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
		req.Operation = kmsg.ACLOperationAny
		req.PermissionType = kmsg.ACLPermissionTypeAny
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, kerr.SecurityDisabled) {
			return fmt.Errorf("DescribeACLs: want SECURITY_DISABLED, got %v", err)
		}
		return nil
	})
	r.check("api versions", 10*time.Second, func(ctx context.Context) error {
		av, err := adm.ApiVersions(ctx)
		if err != nil {
			return err
		}
		for _, v := range av {
			if v.Err != nil {
				return v.Err
			}
			if _, _, ok := v.KeyVersions(0); !ok {
				return errors.New("Produce not advertised")
			}
		}
		return nil
	})
	r.check("delete topics", 30*time.Second, func(ctx context.Context) error {
		dr, err := adm.DeleteTopics(ctx, topic, dataTopic)
		if err != nil {
			return err
		}
		if err := dr.Error(); err != nil {
			return err
		}
		dr, err = adm.DeleteTopics(ctx, topic)
		if err != nil {
			return err
		}
		if !errors.Is(dr[topic].Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("second delete: want UNKNOWN_TOPIC_OR_PARTITION, got %v", dr[topic].Err)
		}
		return nil
	})
}
