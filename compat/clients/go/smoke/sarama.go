package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

func saramaConfig(version string) (*sarama.Config, error) {
	cfg := sarama.NewConfig()
	cfg.ClientID = "weir-smoke-sarama"
	if version != "" {
		v, err := sarama.ParseKafkaVersion(version)
		if err != nil {
			return nil, err
		}
		cfg.Version = v
	}
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg, nil
}

// saramaRead consumes partition p of topic from offset from until n messages arrived.
func saramaRead(ctx context.Context, brokers []string, cfg *sarama.Config, topic string, p int32, from int64, n int) ([]*sarama.ConsumerMessage, error) {
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, p, from)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case e := <-pc.Errors():
			return out, e
		case <-ctx.Done():
			return out, fmt.Errorf("read %d of %d messages from %s[%d]: %w", len(out), n, topic, p, ctx.Err())
		}
	}
	return out, nil
}

// groupHandler consumes until want messages were marked, committing each one synchronously
// (auto-commit is off), then cancels the session.
type groupHandler struct {
	mu     sync.Mutex
	seen   []int64
	want   int
	cancel context.CancelFunc
	ready  chan struct{}
	once   sync.Once
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error {
	h.once.Do(func() { close(h.ready) })
	return nil
}
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		if len(h.seen) >= h.want {
			h.mu.Unlock()
			return nil
		}
		h.seen = append(h.seen, m.Offset)
		full := len(h.seen) >= h.want
		h.mu.Unlock()
		s.MarkMessage(m, "")
		s.Commit()
		if full {
			h.cancel()
			return nil
		}
	}
	return nil
}

// saramaGroupConsume runs one consumer-group member until it has consumed want messages.
func saramaGroupConsume(ctx context.Context, brokers []string, cfg *sarama.Config, group, topic string, want int, whileRunning func() error) ([]int64, error) {
	cg, err := sarama.NewConsumerGroup(brokers, group, cfg)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &groupHandler{want: want, cancel: cancel, ready: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		for cctx.Err() == nil {
			if err := cg.Consume(cctx, []string{topic}, h); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var checkErr error
	if whileRunning != nil {
		select {
		case <-h.ready:
			checkErr = whileRunning()
		case <-cctx.Done():
		}
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) < want {
		return h.seen, fmt.Errorf("group consumed %d of %d messages: %v", len(h.seen), want, err)
	}
	return h.seen, errors.Join(err, checkErr)
}

func runSarama(r *runner, brokers []string, version string) {
	cfg, err := saramaConfig(version)
	if err != nil {
		r.check("config", time.Second, func(context.Context) error { return err })
		return
	}
	comment("Sarama %s, config.Version %s", "v1.61.1", cfg.Version)
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		r.check("connect admin", time.Second, func(context.Context) error { return err })
		return
	}
	defer admin.Close()
	suite := r.suite
	topic := name(suite, "admin")

	r.check("admin create topic (3 partitions, retention.ms)", 30*time.Second, func(ctx context.Context) error {
		ret := "3600000"
		if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1,
			ConfigEntries: map[string]*string{"retention.ms": &ret}}, false); err != nil {
			return err
		}
		err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
		if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("second create: want TOPIC_ALREADY_EXISTS, got %v", err)
		}
		return admin.CreateTopic(name(suite, "validate"), &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, true)
	})
	r.check("admin list/describe topics", 30*time.Second, func(ctx context.Context) error {
		return eventually(ctx, func() error {
			ts, err := admin.ListTopics()
			if err != nil {
				return err
			}
			d, ok := ts[topic]
			if !ok || d.NumPartitions != 3 {
				return fmt.Errorf("ListTopics: %s missing or wrong partition count (%+v)", topic, d)
			}
			md, err := admin.DescribeTopics([]string{topic})
			if err != nil {
				return err
			}
			if len(md) != 1 || !errors.Is(md[0].Err, sarama.ErrNoError) || len(md[0].Partitions) != 3 {
				return fmt.Errorf("DescribeTopics: %+v", md)
			}
			return nil
		})
	})
	var nodeID int32 = -1
	r.check("admin describe cluster", 30*time.Second, func(ctx context.Context) error {
		bs, ctrl, err := admin.DescribeCluster()
		if err != nil {
			return err
		}
		if len(bs) == 0 {
			return errors.New("no brokers")
		}
		nodeID = bs[0].ID()
		comment("brokers %d, controller %d", len(bs), ctrl)
		return nil
	})
	describe := func(res sarama.ConfigResource, key string) (string, error) {
		res.ConfigNames = []string{key}
		es, err := admin.DescribeConfig(res)
		if err != nil {
			return "", err
		}
		for _, e := range es {
			if e.Name == key {
				return e.Value, nil
			}
		}
		return "", fmt.Errorf("%s not in DescribeConfigs answer", key)
	}
	topicRes := sarama.ConfigResource{Type: sarama.TopicResource, Name: topic}
	r.check("admin describe configs (topic, broker)", 30*time.Second, func(ctx context.Context) error {
		v, err := describe(topicRes, "retention.ms")
		if err != nil {
			return err
		}
		if v != "3600000" {
			return fmt.Errorf("retention.ms = %q, want 3600000", v)
		}
		if nodeID < 0 {
			return skip("no broker id (describe cluster failed)")
		}
		v, err = describe(sarama.ConfigResource{Type: sarama.BrokerResource, Name: strconv.Itoa(int(nodeID))}, "message.max.bytes")
		if err != nil {
			return err
		}
		if v == "" {
			return errors.New("broker message.max.bytes empty")
		}
		return nil
	})
	r.check("admin alter configs + incremental alter configs", 30*time.Second, func(ctx context.Context) error {
		seg := "10485760"
		if err := admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"segment.bytes": &seg}, false); err != nil {
			return fmt.Errorf("AlterConfigs: %w", err)
		}
		if v, err := describe(topicRes, "segment.bytes"); err != nil || v != seg {
			return fmt.Errorf("after AlterConfigs segment.bytes = %q (%v)", v, err)
		}
		// AlterConfigs replaces the whole set: retention.ms is back to its default.
		if v, err := describe(topicRes, "retention.ms"); err != nil || v == "3600000" {
			return fmt.Errorf("after AlterConfigs retention.ms = %q (%v), want the default", v, err)
		}
		ret := "7200000"
		if err := admin.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &ret},
		}, false); err != nil {
			return fmt.Errorf("IncrementalAlterConfigs: %w", err)
		}
		if v, err := describe(topicRes, "retention.ms"); err != nil || v != ret {
			return fmt.Errorf("after IncrementalAlterConfigs retention.ms = %q (%v)", v, err)
		}
		if v, err := describe(topicRes, "segment.bytes"); err != nil || v != seg {
			return fmt.Errorf("IncrementalAlterConfigs lost segment.bytes: %q (%v)", v, err)
		}
		bad := "not-a-number"
		err := admin.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &bad},
		}, false)
		if !errors.Is(err, sarama.ErrInvalidConfig) {
			return fmt.Errorf("invalid value: want INVALID_CONFIG, got %v", err)
		}
		return nil
	})
	r.check("admin create partitions (3 -> 4)", 30*time.Second, func(ctx context.Context) error {
		if err := admin.CreatePartitions(topic, 4, nil, false); err != nil {
			return err
		}
		return eventually(ctx, func() error {
			md, err := admin.DescribeTopics([]string{topic})
			if err != nil {
				return err
			}
			if len(md) != 1 || len(md[0].Partitions) != 4 {
				return fmt.Errorf("partitions after CreatePartitions: %+v", md)
			}
			return nil
		})
	})

	// Produce with every codec, acks=all, idempotent; read back with keys and headers.
	codecs := []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP,
		sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD}
	dataTopic := name(suite, "data")
	_ = admin.CreateTopic(dataTopic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	var produced int64
	for _, codec := range codecs {
		r.check("idempotent produce acks=all "+codec.String()+" + read back", 60*time.Second, func(ctx context.Context) error {
			pcfg, _ := saramaConfig(version)
			pcfg.Producer.Idempotent = true
			pcfg.Net.MaxOpenRequests = 1
			pcfg.Producer.Retry.Max = 5
			pcfg.Producer.Compression = codec
			p, err := sarama.NewSyncProducer(brokers, pcfg)
			if err != nil {
				return err
			}
			defer p.Close()
			var msgs []*sarama.ProducerMessage
			for i := 0; i < 20; i++ {
				msgs = append(msgs, &sarama.ProducerMessage{Topic: dataTopic, Partition: 0,
					Key:     sarama.StringEncoder(fmt.Sprintf("k%d", i)),
					Value:   sarama.StringEncoder(fmt.Sprintf("%s-%d", codec, i)),
					Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(codec.String())}}})
			}
			if err := p.SendMessages(msgs); err != nil {
				return err
			}
			first := msgs[0].Offset
			got, err := saramaRead(ctx, brokers, cfg, dataTopic, 0, first, 20)
			if err != nil {
				return err
			}
			for i, m := range got {
				if string(m.Key) != fmt.Sprintf("k%d", i) || string(m.Value) != fmt.Sprintf("%s-%d", codec, i) ||
					len(m.Headers) != 1 || string(m.Headers[0].Value) != codec.String() || m.Offset != first+int64(i) {
					return fmt.Errorf("message %d: offset %d key %q value %q headers %d", i, m.Offset, m.Key, m.Value, len(m.Headers))
				}
			}
			produced += 20
			return nil
		})
	}

	// Consumer group: consume and commit 10 of 30, leave, rejoin: resume at the committed offsets.
	groupTopic := name(suite, "group")
	group := name(suite, "g")
	_ = admin.CreateTopic(groupTopic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	r.check("consumer group: commit, leave, rejoin resumes from committed offset", 90*time.Second, func(ctx context.Context) error {
		p, err := sarama.NewSyncProducer(brokers, cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		for i := 0; i < 30; i++ {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: groupTopic, Value: sarama.StringEncoder(strconv.Itoa(i))}); err != nil {
				return err
			}
		}
		gcfg, _ := saramaConfig(version)
		gcfg.Consumer.Offsets.AutoCommit.Enable = false
		first, err := saramaGroupConsume(ctx, brokers, gcfg, group, groupTopic, 10, func() error {
			// While the member is in the group: it is listed and described as Stable.
			return eventually(ctx, func() error {
				gs, err := admin.DescribeConsumerGroups([]string{group})
				if err != nil {
					return err
				}
				if len(gs) != 1 || gs[0].State != "Stable" || len(gs[0].Members) != 1 {
					return fmt.Errorf("DescribeGroups while consuming: %+v", gs)
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("first member: %w", err)
		}
		if !slices.Equal(first, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			return fmt.Errorf("first member consumed %v", first)
		}
		off, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{groupTopic: {0}})
		if err != nil {
			return err
		}
		if b := off.GetBlock(groupTopic, 0); b == nil || b.Offset != 10 {
			return fmt.Errorf("committed offset after first member: %+v", b)
		}
		second, err := saramaGroupConsume(ctx, brokers, gcfg, group, groupTopic, 5, nil)
		if err != nil {
			return fmt.Errorf("second member: %w", err)
		}
		if second[0] != 10 {
			return fmt.Errorf("rejoined member started at offset %d, want 10", second[0])
		}
		return nil
	})
	r.check("admin list/describe groups after the members left", 30*time.Second, func(ctx context.Context) error {
		gs, err := admin.ListConsumerGroups()
		if err != nil {
			return err
		}
		if gs[group] != "consumer" {
			return fmt.Errorf("ListGroups: %s has protocol type %q", group, gs[group])
		}
		return eventually(ctx, func() error {
			ds, err := admin.DescribeConsumerGroups([]string{group})
			if err != nil {
				return err
			}
			if len(ds) != 1 || ds[0].State != "Empty" {
				return fmt.Errorf("DescribeGroups: %+v", ds)
			}
			return nil
		})
	})
	r.check("admin alter/delete group offsets, delete group", 30*time.Second, func(ctx context.Context) error {
		if _, err := admin.AlterConsumerGroupOffsets(group, map[string]map[int32]sarama.OffsetAndMetadata{
			groupTopic: {0: {Offset: 20}}}, nil); err != nil {
			return fmt.Errorf("AlterConsumerGroupOffsets: %w", err)
		}
		off, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{groupTopic: {0}})
		if err != nil {
			return err
		}
		if b := off.GetBlock(groupTopic, 0); b == nil || b.Offset != 20 {
			return fmt.Errorf("after AlterConsumerGroupOffsets: %+v", b)
		}
		if err := admin.DeleteConsumerGroupOffset(group, groupTopic, 0); err != nil {
			return fmt.Errorf("DeleteConsumerGroupOffset: %w", err)
		}
		off, err = admin.ListConsumerGroupOffsets(group, map[string][]int32{groupTopic: {0}})
		if err != nil {
			return err
		}
		if b := off.GetBlock(groupTopic, 0); b == nil || b.Offset != -1 {
			return fmt.Errorf("after DeleteConsumerGroupOffset: %+v", b)
		}
		if err := admin.DeleteConsumerGroup(group); err != nil {
			return fmt.Errorf("DeleteConsumerGroup: %w", err)
		}
		err = admin.DeleteConsumerGroup(group)
		if !errors.Is(err, sarama.ErrGroupIDNotFound) {
			return fmt.Errorf("second delete: want GROUP_ID_NOT_FOUND, got %v", err)
		}
		return nil
	})
	r.check("static member (group.instance.id) + admin remove member", 60*time.Second, func(ctx context.Context) error {
		if !cfg.Version.IsAtLeast(sarama.V2_4_0_0) {
			return skip("static membership removal needs config.Version >= 2.4 (have %s)", cfg.Version)
		}
		sg := name(suite, "static")
		scfg, _ := saramaConfig(version)
		scfg.Consumer.Group.InstanceId = "instance-1"
		cg, err := sarama.NewConsumerGroup(brokers, sg, scfg)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithCancel(ctx)
		h := &groupHandler{want: 1 << 30, cancel: cancel, ready: make(chan struct{})}
		go func() { _ = cg.Consume(cctx, []string{groupTopic}, h) }()
		defer func() { cancel(); cg.Close() }()
		select {
		case <-h.ready:
		case <-ctx.Done():
			return errors.New("static member never joined")
		}
		ds, err := admin.DescribeConsumerGroups([]string{sg})
		if err != nil {
			return err
		}
		var inst string
		for _, m := range ds[0].Members {
			if m.GroupInstanceId != nil {
				inst = *m.GroupInstanceId
			}
		}
		if inst != "instance-1" {
			return fmt.Errorf("DescribeGroups does not show the instance id: %+v", ds[0].Members)
		}
		resp, err := admin.RemoveMemberFromConsumerGroup(sg, []string{"instance-1"})
		if err != nil {
			return err
		}
		if len(resp.Members) != 1 || !errors.Is(resp.Members[0].Err, sarama.ErrNoError) {
			return fmt.Errorf("LeaveGroup members: %+v", resp.Members)
		}
		return nil
	})

	r.check("admin delete records + list offsets", 30*time.Second, func(ctx context.Context) error {
		if produced < 10 {
			return skip("nothing produced")
		}
		if err := admin.DeleteRecords(dataTopic, map[int32]int64{0: 5}); err != nil {
			return err
		}
		client, err := sarama.NewClient(brokers, cfg)
		if err != nil {
			return err
		}
		defer client.Close()
		start, err := client.GetOffset(dataTopic, 0, sarama.OffsetOldest)
		if err != nil {
			return err
		}
		end, err := client.GetOffset(dataTopic, 0, sarama.OffsetNewest)
		if err != nil {
			return err
		}
		if start != 5 || end != produced {
			return fmt.Errorf("offsets after DeleteRecords: start %d end %d, want 5 and %d", start, end, produced)
		}
		return nil
	})
	r.check("admin describe log dirs", 30*time.Second, func(ctx context.Context) error {
		if nodeID < 0 {
			return skip("no broker id")
		}
		dirs, err := admin.DescribeLogDirs([]int32{nodeID})
		if err != nil {
			return err
		}
		for _, d := range dirs[nodeID] {
			for _, t := range d.Topics {
				if t.Topic == dataTopic && len(t.Partitions) == 1 && t.Partitions[0].Size > 0 {
					return nil
				}
			}
		}
		return fmt.Errorf("%s not in DescribeLogDirs: %+v", dataTopic, dirs)
	})

	// Transactions: a committed and an aborted transaction; read_committed sees only the first.
	txnTopic := name(suite, "txn")
	_ = admin.CreateTopic(txnTopic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	newTxnProducer := func(id string) (sarama.SyncProducer, error) {
		tcfg, _ := saramaConfig(version)
		tcfg.Producer.Idempotent = true
		tcfg.Producer.Transaction.ID = id
		tcfg.Net.MaxOpenRequests = 1
		tcfg.Producer.Retry.Max = 5
		return sarama.NewSyncProducer(brokers, tcfg)
	}
	r.check("transactions: commit + abort, read_committed vs read_uncommitted", 60*time.Second, func(ctx context.Context) error {
		if !cfg.Version.IsAtLeast(sarama.V0_11_0_0) {
			return skip("transactions need config.Version >= 0.11")
		}
		p, err := newTxnProducer(name(suite, "tx"))
		if err != nil {
			return err
		}
		defer p.Close()
		for i, commit := range []bool{true, false, true} {
			if err := p.BeginTxn(); err != nil {
				return fmt.Errorf("BeginTxn: %w", err)
			}
			for j := 0; j < 3; j++ {
				if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: txnTopic, Partition: 0,
					Value: sarama.StringEncoder(fmt.Sprintf("t%d-%d", i, j))}); err != nil {
					return err
				}
			}
			if commit {
				err = p.CommitTxn()
			} else {
				err = p.AbortTxn()
			}
			if err != nil {
				return fmt.Errorf("end txn %d: %w", i, err)
			}
		}
		rc, _ := saramaConfig(version)
		rc.Consumer.IsolationLevel = sarama.ReadCommitted
		got, err := saramaRead(ctx, brokers, rc, txnTopic, 0, sarama.OffsetOldest, 6)
		if err != nil {
			return fmt.Errorf("read_committed: %w", err)
		}
		var vals []string
		for _, m := range got {
			vals = append(vals, string(m.Value))
		}
		want := []string{"t0-0", "t0-1", "t0-2", "t2-0", "t2-1", "t2-2"}
		if !slices.Equal(vals, want) {
			return fmt.Errorf("read_committed saw %v, want %v", vals, want)
		}
		got, err = saramaRead(ctx, brokers, cfg, txnTopic, 0, sarama.OffsetOldest, 9)
		if err != nil {
			return fmt.Errorf("read_uncommitted: %w", err)
		}
		if string(got[3].Value) != "t1-0" {
			return fmt.Errorf("read_uncommitted: 4th message %q, want t1-0", got[3].Value)
		}
		return nil
	})
	r.check("transactions: consume-transform-produce (AddOffsetsToTxn)", 60*time.Second, func(ctx context.Context) error {
		if !cfg.Version.IsAtLeast(sarama.V0_11_0_0) {
			return skip("transactions need config.Version >= 0.11")
		}
		outTopic := name(suite, "txn-out")
		if err := admin.CreateTopic(outTopic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
			return err
		}
		tg := name(suite, "txn-g")
		p, err := newTxnProducer(name(suite, "ctp"))
		if err != nil {
			return err
		}
		defer p.Close()
		in, err := saramaRead(ctx, brokers, cfg, dataTopic, 0, sarama.OffsetOldest, 3)
		if err != nil {
			return err
		}
		if err := p.BeginTxn(); err != nil {
			return err
		}
		for _, m := range in {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: outTopic, Value: sarama.ByteEncoder(m.Value)}); err != nil {
				return err
			}
		}
		last := in[len(in)-1]
		if err := p.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{
			dataTopic: {{Partition: 0, Offset: last.Offset + 1, LeaderEpoch: -1}}}, tg); err != nil {
			return fmt.Errorf("AddOffsetsToTxn: %w", err)
		}
		if err := p.CommitTxn(); err != nil {
			return fmt.Errorf("CommitTxn: %w", err)
		}
		return eventually(ctx, func() error {
			off, err := admin.ListConsumerGroupOffsets(tg, map[string][]int32{dataTopic: {0}})
			if err != nil {
				return err
			}
			if b := off.GetBlock(dataTopic, 0); b == nil || b.Offset != last.Offset+1 {
				return fmt.Errorf("group offset after the transaction: %+v, want %d", b, last.Offset+1)
			}
			return nil
		})
	})

	r.check("admin SCRAM credentials upsert/describe/delete", 30*time.Second, func(ctx context.Context) error {
		if !cfg.Version.IsAtLeast(sarama.V2_7_0_0) {
			return skip("needs config.Version >= 2.7")
		}
		user := name(suite, "user")
		res, err := admin.UpsertUserScramCredentials([]sarama.AlterUserScramCredentialsUpsert{{
			// Sarama sends a nil salt as null, which Kafka's parser refuses (non-nullable field):
			// the client must provide one.
			Name: user, Mechanism: sarama.SCRAM_MECHANISM_SHA_256, Iterations: 4096,
			Salt: []byte("weir-smoke-salt-"), Password: []byte("pw")}})
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0].ErrorCode != sarama.ErrNoError {
			return fmt.Errorf("upsert: %+v", res)
		}
		ds, err := admin.DescribeUserScramCredentials([]string{user})
		if err != nil {
			return err
		}
		if len(ds) != 1 || ds[0].ErrorCode != sarama.ErrNoError || len(ds[0].CredentialInfos) != 1 ||
			ds[0].CredentialInfos[0].Iterations != 4096 {
			return fmt.Errorf("describe: %+v", ds)
		}
		res, err = admin.DeleteUserScramCredentials([]sarama.AlterUserScramCredentialsDelete{{Name: user, Mechanism: sarama.SCRAM_MECHANISM_SHA_256}})
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0].ErrorCode != sarama.ErrNoError {
			return fmt.Errorf("delete: %+v", res)
		}
		return nil
	})
	r.check("admin delete topics", 30*time.Second, func(ctx context.Context) error {
		for _, t := range []string{topic, dataTopic, groupTopic, txnTopic} {
			if err := admin.DeleteTopic(t); err != nil {
				return fmt.Errorf("delete %s: %w", t, err)
			}
		}
		return eventually(ctx, func() error {
			ts, err := admin.ListTopics()
			if err != nil {
				return err
			}
			if _, ok := ts[topic]; ok {
				return fmt.Errorf("%s still listed", topic)
			}
			return nil
		})
	})
}
