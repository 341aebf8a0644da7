package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

func runKafkaGo(r *runner, brokers []string) {
	comment("segmentio/kafka-go v0.4.51")
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 20 * time.Second}
	suite := r.suite
	topic := name(suite, "admin")
	create := func(ctx context.Context, t string, partitions int) error {
		resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: t, NumPartitions: partitions, ReplicationFactor: 1}}})
		if err != nil {
			return err
		}
		return resp.Errors[t]
	}
	partitionsOf := func(ctx context.Context, t string) (int, error) {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{t}})
		if err != nil {
			return 0, err
		}
		if len(md.Topics) != 1 || md.Topics[0].Error != nil {
			return 0, fmt.Errorf("metadata for %s: %+v", t, md.Topics)
		}
		return len(md.Topics[0].Partitions), nil
	}

	r.check("admin create topics (configs, duplicate, validate-only)", 30*time.Second, func(ctx context.Context) error {
		resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: topic, NumPartitions: 2, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "3600000"}}}}})
		if err != nil {
			return err
		}
		if err := resp.Errors[topic]; err != nil {
			return err
		}
		if err := create(ctx, topic, 2); !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("second create: want TOPIC_ALREADY_EXISTS, got %v", err)
		}
		v := name(suite, "validate")
		// kafka-go waits after any successful CreateTopics until the topic shows in metadata,
		// validate-only ones too (against Kafka as well), so this call gets a short deadline:
		// the answer is returned once the wait gives up.
		vctx, vcancel := context.WithTimeout(ctx, 2*time.Second)
		defer vcancel()
		resp, err = cl.CreateTopics(vctx, &kafka.CreateTopicsRequest{ValidateOnly: true,
			Topics: []kafka.TopicConfig{{Topic: v, NumPartitions: 1, ReplicationFactor: 1}}})
		if err != nil {
			return err
		}
		if err := resp.Errors[v]; err != nil {
			return fmt.Errorf("validate-only: %w", err)
		}
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{v}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil {
			return fmt.Errorf("validate-only create made %s", v)
		}
		return nil
	})
	r.check("metadata", 30*time.Second, func(ctx context.Context) error {
		return eventually(ctx, func() error {
			n, err := partitionsOf(ctx, topic)
			if err != nil {
				return err
			}
			if n != 2 {
				return fmt.Errorf("%d partitions, want 2", n)
			}
			return nil
		})
	})
	describe := func(ctx context.Context, typ kafka.ResourceType, res, key string) (string, error) {
		resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: typ, ResourceName: res, ConfigNames: []string{key}}}})
		if err != nil {
			return "", err
		}
		if len(resp.Resources) != 1 {
			return "", fmt.Errorf("%d resources", len(resp.Resources))
		}
		if err := resp.Resources[0].Error; err != nil {
			return "", err
		}
		for _, e := range resp.Resources[0].ConfigEntries {
			if e.ConfigName == key {
				return e.ConfigValue, nil
			}
		}
		return "", fmt.Errorf("%s not described", key)
	}
	r.check("admin describe configs (topic, broker)", 30*time.Second, func(ctx context.Context) error {
		if v, err := describe(ctx, kafka.ResourceTypeTopic, topic, "retention.ms"); err != nil || v != "3600000" {
			return fmt.Errorf("topic retention.ms = %q (%v)", v, err)
		}
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
		if err != nil {
			return err
		}
		v, err := describe(ctx, kafka.ResourceTypeBroker, strconv.Itoa(md.Controller.ID), "message.max.bytes")
		if err != nil || v == "" {
			return fmt.Errorf("broker message.max.bytes = %q (%v)", v, err)
		}
		return nil
	})
	r.check("admin alter configs + incremental alter configs", 30*time.Second, func(ctx context.Context) error {
		ar, err := cl.AlterConfigs(ctx, &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
			Configs: []kafka.AlterConfigRequestConfig{{Name: "segment.bytes", Value: "10485760"}}}}})
		if err != nil {
			return err
		}
		for res, e := range ar.Errors {
			if e != nil {
				return fmt.Errorf("AlterConfigs %v: %w", res, e)
			}
		}
		if v, err := describe(ctx, kafka.ResourceTypeTopic, topic, "segment.bytes"); err != nil || v != "10485760" {
			return fmt.Errorf("after AlterConfigs segment.bytes = %q (%v)", v, err)
		}
		ir, err := cl.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{Resources: []kafka.IncrementalAlterConfigsRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
			Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: "retention.ms", Value: "7200000", ConfigOperation: kafka.ConfigOperationSet}}}}})
		if err != nil {
			return err
		}
		for _, res := range ir.Resources {
			if res.Error != nil {
				return fmt.Errorf("IncrementalAlterConfigs: %w", res.Error)
			}
		}
		if v, err := describe(ctx, kafka.ResourceTypeTopic, topic, "retention.ms"); err != nil || v != "7200000" {
			return fmt.Errorf("after IncrementalAlterConfigs retention.ms = %q (%v)", v, err)
		}
		if v, err := describe(ctx, kafka.ResourceTypeTopic, topic, "segment.bytes"); err != nil || v != "10485760" {
			return fmt.Errorf("IncrementalAlterConfigs lost segment.bytes: %q (%v)", v, err)
		}
		return nil
	})
	r.check("admin create partitions (2 -> 3)", 30*time.Second, func(ctx context.Context) error {
		resp, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 3}}})
		if err != nil {
			return err
		}
		if err := resp.Errors[topic]; err != nil {
			return err
		}
		return eventually(ctx, func() error {
			n, err := partitionsOf(ctx, topic)
			if err != nil || n != 3 {
				return fmt.Errorf("%d partitions (%v), want 3", n, err)
			}
			return nil
		})
	})
	r.check("api versions", 10*time.Second, func(ctx context.Context) error {
		resp, err := cl.ApiVersions(ctx, &kafka.ApiVersionsRequest{})
		if err != nil {
			return err
		}
		if resp.Error != nil || len(resp.ApiKeys) < 10 {
			return fmt.Errorf("ApiVersions: %v, %d keys", resp.Error, len(resp.ApiKeys))
		}
		return nil
	})

	// Produce with every codec kafka-go has, acks=all, and read back (keys, headers).
	dataTopic := name(suite, "data")
	codecs := []struct {
		name  string
		codec compress.Compression
	}{{"none", 0}, {"gzip", kafka.Gzip}, {"snappy", kafka.Snappy}, {"lz4", kafka.Lz4}, {"zstd", kafka.Zstd}}
	var produced int64
	r.check("writer + reader set-up", 30*time.Second, func(ctx context.Context) error { return create(ctx, dataTopic, 1) })
	for _, c := range codecs {
		r.check("writer acks=all "+c.name+" + reader read back", 60*time.Second, func(ctx context.Context) error {
			w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: dataTopic, RequiredAcks: kafka.RequireAll,
				Compression: c.codec, BatchTimeout: 10 * time.Millisecond, BatchSize: 100}
			defer w.Close()
			var msgs []kafka.Message
			for i := 0; i < 20; i++ {
				msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("%s-%d", c.name, i)),
					Headers: []kafka.Header{{Key: "h", Value: []byte(c.name)}}})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return err
			}
			rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: dataTopic, Partition: 0, MaxWait: 200 * time.Millisecond})
			defer rd.Close()
			if err := rd.SetOffset(produced); err != nil {
				return err
			}
			for i := 0; i < 20; i++ {
				m, err := rd.ReadMessage(ctx)
				if err != nil {
					return fmt.Errorf("read %d: %w", i, err)
				}
				if string(m.Key) != fmt.Sprintf("k%d", i) || string(m.Value) != fmt.Sprintf("%s-%d", c.name, i) ||
					len(m.Headers) != 1 || string(m.Headers[0].Value) != c.name || m.Offset != produced+int64(i) {
					return fmt.Errorf("message %d: offset %d key %q value %q headers %v", i, m.Offset, m.Key, m.Value, m.Headers)
				}
			}
			produced += 20
			return nil
		})
	}
	r.check("conn API: DialLeader, WriteMessages, ReadBatch, ReadPartitions", 30*time.Second, func(ctx context.Context) error {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], dataTopic, 0)
		if err != nil {
			return err
		}
		defer conn.Close()
		ps, err := conn.ReadPartitions(dataTopic)
		if err != nil {
			return err
		}
		if len(ps) != 1 {
			return fmt.Errorf("ReadPartitions: %+v", ps)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.WriteMessages(kafka.Message{Value: []byte("conn-1")}, kafka.Message{Value: []byte("conn-2")}); err != nil {
			return err
		}
		if _, err := conn.Seek(produced, kafka.SeekAbsolute); err != nil {
			return err
		}
		b := conn.ReadBatch(1, 1<<20)
		var got []string
		for {
			m, err := b.ReadMessage()
			if err != nil {
				break
			}
			got = append(got, string(m.Value))
		}
		if err := b.Close(); err != nil {
			return err
		}
		if !slices.Equal(got, []string{"conn-1", "conn-2"}) {
			return fmt.Errorf("ReadBatch got %v", got)
		}
		first, last, err := conn.ReadOffsets()
		if err != nil {
			return err
		}
		produced += 2
		if first != 0 || last != produced {
			return fmt.Errorf("ReadOffsets: %d..%d, want 0..%d", first, last, produced)
		}
		return nil
	})
	r.check("list offsets (first, last, by time)", 30*time.Second, func(ctx context.Context) error {
		resp, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			dataTopic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}}})
		if err != nil {
			return err
		}
		po := resp.Topics[dataTopic]
		if len(po) != 1 || po[0].Error != nil || po[0].FirstOffset != 0 || po[0].LastOffset != produced {
			return fmt.Errorf("ListOffsets: %+v, want 0..%d", po, produced)
		}
		resp, err = cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			dataTopic: {kafka.TimeOffsetOf(0, time.Now().Add(-time.Hour))}}})
		if err != nil {
			return err
		}
		po = resp.Topics[dataTopic]
		if len(po) != 1 || po[0].Error != nil || len(po[0].Offsets) != 1 {
			return fmt.Errorf("ListOffsets by time: %+v", po)
		}
		for off := range po[0].Offsets {
			if off != 0 {
				return fmt.Errorf("offset for an hour ago = %d, want 0", off)
			}
		}
		return nil
	})

	// Consumer group: commit 10 of 30, close, a new reader resumes at offset 10.
	groupTopic := name(suite, "group")
	group := name(suite, "g")
	r.check("consumer group: commit, close, new reader resumes from committed offset", 120*time.Second, func(ctx context.Context) error {
		if err := create(ctx, groupTopic, 1); err != nil {
			return err
		}
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: groupTopic, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
		var msgs []kafka.Message
		for i := 0; i < 30; i++ {
			msgs = append(msgs, kafka.Message{Value: []byte(strconv.Itoa(i))})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return err
		}
		w.Close()
		consume := func(n int, whileRunning func() error) ([]int64, error) {
			rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: group, Topic: groupTopic,
				StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond, HeartbeatInterval: time.Second,
				RebalanceTimeout: 5 * time.Second})
			defer rd.Close()
			var offs []int64
			for len(offs) < n {
				m, err := rd.FetchMessage(ctx)
				if err != nil {
					return offs, err
				}
				if err := rd.CommitMessages(ctx, m); err != nil {
					return offs, err
				}
				offs = append(offs, m.Offset)
				if len(offs) == 1 && whileRunning != nil {
					if err := whileRunning(); err != nil {
						return offs, err
					}
				}
			}
			return offs, nil
		}
		first, err := consume(10, func() error {
			return eventually(ctx, func() error {
				lg, err := cl.ListGroups(ctx, &kafka.ListGroupsRequest{})
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(lg.Groups, func(g kafka.ListGroupsResponseGroup) bool { return g.GroupID == group }) {
					return fmt.Errorf("ListGroups lacks %s", group)
				}
				dg, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
				if err != nil {
					return err
				}
				if len(dg.Groups) != 1 || dg.Groups[0].GroupState != "Stable" || len(dg.Groups[0].Members) != 1 {
					return fmt.Errorf("DescribeGroups while consuming: %+v", dg.Groups)
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("first reader: %w", err)
		}
		if first[0] != 0 || first[9] != 9 {
			return fmt.Errorf("first reader consumed %v", first)
		}
		of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{groupTopic: {0}}})
		if err != nil {
			return err
		}
		if ps := of.Topics[groupTopic]; len(ps) != 1 || ps[0].CommittedOffset != 10 {
			return fmt.Errorf("OffsetFetch after the first reader: %+v", ps)
		}
		second, err := consume(5, nil)
		if err != nil {
			return fmt.Errorf("second reader: %w", err)
		}
		if second[0] != 10 {
			return fmt.Errorf("second reader started at %d, want 10", second[0])
		}
		return nil
	})
	r.check("admin offset delete + delete groups", 30*time.Second, func(ctx context.Context) error {
		od, err := cl.OffsetDelete(ctx, &kafka.OffsetDeleteRequest{GroupID: group, Topics: map[string][]int{groupTopic: {0}}})
		if err != nil {
			return err
		}
		if od.Error != nil {
			return fmt.Errorf("OffsetDelete: %w", od.Error)
		}
		for _, p := range od.Topics[groupTopic] {
			if p.Error != nil {
				return fmt.Errorf("OffsetDelete partition %d: %w", p.Partition, p.Error)
			}
		}
		dg, err := cl.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			return err
		}
		if err := dg.Errors[group]; err != nil {
			return fmt.Errorf("DeleteGroups: %w", err)
		}
		dg, err = cl.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			return err
		}
		if err := dg.Errors[group]; !errors.Is(err, kafka.GroupIdNotFound) {
			return fmt.Errorf("second DeleteGroups: want GROUP_ID_NOT_FOUND, got %v", err)
		}
		return nil
	})
	r.check("init producer id", 30*time.Second, func(ctx context.Context) error {
		resp, err := cl.InitProducerID(ctx, &kafka.InitProducerIDRequest{TransactionTimeoutMs: 60000})
		if err != nil {
			return err
		}
		if resp.Error != nil || resp.Producer == nil || resp.Producer.ProducerID < 0 {
			return fmt.Errorf("InitProducerId: %+v", resp)
		}
		return nil
	})
	r.check("admin SCRAM credentials alter/describe", 30*time.Second, func(ctx context.Context) error {
		user := name(suite, "user")
		ar, err := cl.AlterUserScramCredentials(ctx, &kafka.AlterUserScramCredentialsRequest{Upsertions: []kafka.UserScramCredentialsUpsertion{{
			Name: user, Mechanism: kafka.ScramMechanismSha512, Iterations: 8192, Salt: []byte("weir-smoke-salt-"), SaltedPassword: make([]byte, 64)}}})
		if err != nil {
			return err
		}
		for _, res := range ar.Results {
			if res.Error != nil {
				return fmt.Errorf("AlterUserScramCredentials: %w", res.Error)
			}
		}
		dr, err := cl.DescribeUserScramCredentials(ctx, &kafka.DescribeUserScramCredentialsRequest{Users: []kafka.UserScramCredentialsUser{{Name: user}}})
		if err != nil {
			return err
		}
		if len(dr.Results) != 1 || dr.Results[0].Error != nil || len(dr.Results[0].CredentialInfos) != 1 ||
			dr.Results[0].CredentialInfos[0].Iterations != 8192 {
			return fmt.Errorf("DescribeUserScramCredentials: %+v", dr.Results)
		}
		return nil
	})
	r.check("delete records", time.Second, func(ctx context.Context) error {
		return skip("kafka-go has no DeleteRecords call")
	})
	r.check("idempotent / transactional producer", time.Second, func(ctx context.Context) error {
		return skip("kafka-go's Writer has neither")
	})
	r.check("admin delete topics", 30*time.Second, func(ctx context.Context) error {
		resp, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic, dataTopic, groupTopic}})
		if err != nil {
			return err
		}
		for t, e := range resp.Errors {
			if e != nil {
				return fmt.Errorf("delete %s: %w", t, e)
			}
		}
		return eventually(ctx, func() error {
			if _, err := partitionsOf(ctx, topic); err == nil {
				return fmt.Errorf("%s still in metadata", topic)
			}
			return nil
		})
	})
}
