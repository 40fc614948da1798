// Package tblog writes (and reads back) TensorBoard event files in pure Go, enough for the
// script's tb_writer.add_scalar calls: a file events.out.tfevents.<secs>.<host>.<pid>.<n> as
// torch.utils.tensorboard.SummaryWriter names it, a first Event{file_version: "brain.Event:2"},
// then one Event{wall_time, step, summary: Summary{value: [{tag, simple_value}]}} per scalar.
//
// Records use TensorFlow's TFRecord framing: uint64 length (little endian), masked CRC32C of
// those 8 bytes, the serialised Event, masked CRC32C of it. The protobuf wire format is
// encoded by hand (no protobuf module is available); field numbers are those of
// tensorboard/compat/proto/event.proto and summary.proto.
//
// A Writer is safe for concurrent use (its methods serialise on a mutex). Records are
// buffered: call Flush after each epoch's scalars (the script's SummaryWriter flushes every
// 120 s and on close) and Close at the end. The reader verifies both CRCs of every record
// and never allocates more than the input actually holds, so it can be fuzzed.
package tblog
