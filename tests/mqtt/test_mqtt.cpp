// sam3export method=mqtt against real mosquitto brokers that the test starts on free loopback
// ports, with generated configuration files (and, for TLS, a throwaway CA made with openssl;
// for passwords, a password file made with mosquitto_passwd). Frames carry metadata made by
// the test, so no model runs. A libmosquitto subscriber in the test receives the messages.
//
// SAM3_MOSQUITTO, SAM3_OPENSSL and SAM3_MOSQUITTO_PASSWD name the programs (tests/meson.build
// finds them); a case is skipped only when the program it needs is not installed.
#include "gst/fixtures.h"
#include "gstsam3meta.h"

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <gtest/gtest.h>
#include <mosquitto.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <pwd.h>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace sam3_test;

std::string *g_dir = nullptr;

class Environment : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    mosquitto_lib_init();
    g_dir = new std::string(scratch_dir("mqtt"));
  }
  void TearDown() override {
    remove_dir(*g_dir);
    delete g_dir;
    mosquitto_lib_cleanup();
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new Environment);

std::string program(const char *variable) {
  const char *path = std::getenv(variable);
  return path && access(path, X_OK) == 0 ? path : "";
}

#define REQUIRE_PROGRAM(var)                                                                       \
  const std::string var##_path = program(#var);                                                    \
  if (var##_path.empty())                                                                          \
  GTEST_SKIP() << #var " does not name an installed program"

bool run(const std::string &command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr *>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool open = connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
  close(s);
  return open;
}

bool eventually(const std::function<bool()> &done, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    g_usleep(20000);
  }
  return true;
}

// A mosquitto process on 127.0.0.1:port; `config` is added to the listener's settings.
class Broker {
public:
  Broker(const std::string &name, const std::string &config) : port(free_port()) {
    dir_ = *g_dir + "/" + name;
    g_mkdir_with_parents(dir_.c_str(), 0700);
    // Run as root, mosquitto would switch to the "mosquitto" user, which cannot read the
    // test's files; naming the current user keeps it as it is.
    std::ofstream(dir_ + "/mosquitto.conf") << "user " << getpwuid(getuid())->pw_name << "\n"
                                            << "log_type all\n"
                                            << "listener " << port << " 127.0.0.1\n"
                                            << config;
  }
  ~Broker() { kill_hard(); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  std::string log() const {
    std::ifstream in(dir_ + "/broker.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  bool start() {
    const std::string broker = program("SAM3_MOSQUITTO");
    const std::string conf = dir_ + "/mosquitto.conf";
    const gchar *argv[] = {broker.c_str(), "-c", conf.c_str(), nullptr};
    int log = open((dir_ + "/broker.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    GError *error = nullptr;
    // The broker dies with the test, even when a crash skips the destructor.
    const gboolean spawned = g_spawn_async_with_fds(
        dir_.c_str(), const_cast<gchar **>(argv), nullptr, G_SPAWN_DO_NOT_REAP_CHILD,
        [](gpointer) { prctl(PR_SET_PDEATHSIG, SIGKILL); }, nullptr, &pid_, -1, log, log, &error);
    close(log);
    if (!spawned) {
      ADD_FAILURE() << "cannot start mosquitto: " << error->message;
      g_error_free(error);
      return false;
    }
    if (!eventually([&] { return port_open(port) || waitpid(pid_, nullptr, WNOHANG) == pid_; },
                    10000) ||
        !port_open(port)) {
      ADD_FAILURE() << "mosquitto did not listen on " << port << ":\n" << this->log();
      pid_ = 0;
      return false;
    }
    return true;
  }
  // As a crash or a pulled cable: no goodbye to the clients, nothing saved.
  void kill_hard() { end(SIGKILL); }
  // A clean shutdown, which writes the persistence database.
  void stop() { end(SIGTERM); }

  const int port;

private:
  void end(int signal) {
    if (pid_ > 0) {
      kill(pid_, signal);
      waitpid(pid_, nullptr, 0);
      g_spawn_close_pid(pid_);
    }
    pid_ = 0;
  }
  std::string dir_;
  GPid pid_ = 0;
};

struct SubscriberOptions {
  std::string id;      // empty: a clean session with a random id
  std::string ca_file; // TLS when set
  std::string username, password;
};

// A libmosquitto subscriber on its own loop thread; it subscribes again after every
// reconnection (libmosquitto reconnects by itself).
class Subscriber {
public:
  Subscriber(const Broker &broker, const std::string &topic, SubscriberOptions options = {})
      : topic_(topic) {
    mosq_ =
        mosquitto_new(options.id.empty() ? nullptr : options.id.c_str(), options.id.empty(), this);
    if (!options.ca_file.empty())
      mosquitto_tls_set(mosq_, options.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    if (!options.username.empty())
      mosquitto_username_pw_set(mosq_, options.username.c_str(), options.password.c_str());
    mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
    mosquitto_connect_callback_set(mosq_, [](mosquitto *m, void *self, int rc) {
      if (rc == 0)
        mosquitto_subscribe(m, nullptr, static_cast<Subscriber *>(self)->topic_.c_str(), 1);
    });
    mosquitto_subscribe_callback_set(mosq_, [](mosquitto *, void *self, int, int, const int *) {
      auto *s = static_cast<Subscriber *>(self);
      std::lock_guard<std::mutex> lock(s->mutex_);
      s->subscriptions_++;
    });
    mosquitto_message_callback_set(
        mosq_, [](mosquitto *, void *self, const mosquitto_message *msg) {
          auto *s = static_cast<Subscriber *>(self);
          std::lock_guard<std::mutex> lock(s->mutex_);
          s->topics_.emplace_back(msg->topic);
          s->payloads_.emplace_back(static_cast<const char *>(msg->payload), msg->payloadlen);
        });
    mosquitto_connect_async(mosq_, "127.0.0.1", broker.port, 60);
    mosquitto_loop_start(mosq_);
  }
  ~Subscriber() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
  }

  bool wait_subscribed(int times = 1) {
    return eventually(
        [&] {
          std::lock_guard<std::mutex> lock(mutex_);
          return subscriptions_ >= times;
        },
        10000);
  }
  bool wait_for(size_t n, int timeout_ms = 15000) {
    return eventually([&] { return payloads().size() >= n; }, timeout_ms);
  }
  std::vector<std::string> payloads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return payloads_;
  }
  std::vector<std::string> topics() {
    std::lock_guard<std::mutex> lock(mutex_);
    return topics_;
  }

private:
  std::string topic_;
  mosquitto *mosq_;
  std::mutex mutex_;
  int subscriptions_ = 0;
  std::vector<std::string> topics_, payloads_;
};

// A frame whose metadata differs from frame to frame (and says its number).
GstBuffer *frame(guint64 n) {
  GstBuffer *buf = gst_buffer_new();
  GstSam3Meta *meta = gst_buffer_add_sam3_meta(buf, 640, 480);
  meta->frame_number = n;
  gst_sam3_meta_add_prompt(meta, "person");
  GstSam3Instance *inst =
      gst_sam3_meta_add_instance(meta, "person", 0, 0.5f + (n % 40) / 100.f, n % 600, 10, 40, 80);
  inst->track_id = 1 + n % 3;
  GST_BUFFER_PTS(buf) = gst_util_uint64_scale(n, GST_SECOND, 30);
  GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
  return buf;
}

// The frame number a message carries; G_MAXUINT64 when it is not gst-sam3/1 JSON.
guint64 frame_number(const std::string &json) {
  GstBuffer *buf = gst_buffer_new();
  GstSam3Meta *meta = gst_buffer_add_sam3_meta_from_json(buf, json.c_str(), nullptr);
  const guint64 n = meta ? meta->frame_number : G_MAXUINT64;
  gst_buffer_unref(buf);
  return n;
}

std::vector<guint64> frame_numbers(const std::vector<std::string> &payloads) {
  std::vector<guint64> numbers;
  for (const auto &p : payloads)
    numbers.push_back(frame_number(p));
  return numbers;
}

std::vector<guint64> range(guint64 from, guint64 to) {
  std::vector<guint64> v;
  for (guint64 n = from; n < to; n++)
    v.push_back(n);
  return v;
}

// sam3export in a harness, with a bus of its own set before it starts so that nothing the
// publisher thread posts is missed.
class Exporter {
public:
  explicit Exporter(const std::string &properties) {
    // A bin (with ghost pads) when `properties` goes on to more elements.
    GError *error = nullptr;
    GstElement *e =
        gst_parse_bin_from_description_full(("sam3export name=export " + properties).c_str(), TRUE,
                                            nullptr, GST_PARSE_FLAG_NO_SINGLE_ELEMENT_BINS, &error);
    EXPECT_NE(e, nullptr) << (error ? error->message : "");
    g_clear_error(&error);
    export_ =
        GST_IS_BIN(e) ? gst_bin_get_by_name(GST_BIN(e), "export") : GST_ELEMENT(gst_object_ref(e));
    bus_ = gst_bus_new();
    gst_element_set_bus(e, bus_);
    h_ = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h_, "video/x-raw,format=RGB,width=640,height=480,"
                                     "framerate=30/1");
  }
  ~Exporter() {
    gst_harness_teardown(h_);
    gst_object_unref(export_);
    gst_object_unref(bus_);
    for (GstMessage *m : messages_)
      gst_message_unref(m);
  }

  // Pushes frame `n`; also records how long the push took (it must never wait on the
  // network).
  GstFlowReturn push(guint64 n) {
    const gint64 start = g_get_monotonic_time();
    const GstFlowReturn ret = gst_harness_push(h_, frame(n));
    longest_push_us = std::max(longest_push_us, g_get_monotonic_time() - start);
    while (GstBuffer *out = gst_harness_try_pull(h_))
      gst_buffer_unref(out);
    return ret;
  }
  // Frames [from, to) at 30 fps.
  void push_live(guint64 from, guint64 to) {
    for (guint64 n = from; n < to; n++) {
      EXPECT_EQ(push(n), GST_FLOW_OK) << "frame " << n;
      g_usleep(G_USEC_PER_SEC / 30);
    }
  }

  guint64 count(const char *property) {
    guint64 value = 0;
    g_object_get(export_, property, &value, nullptr);
    return value;
  }

  // The first message so far of `type` whose text (error/warning) or structure (element)
  // contains `text`, waiting up to timeout_ms for it.
  GstMessage *wait_message(GstMessageType type, const std::string &text, int timeout_ms) {
    GstMessage *found = nullptr;
    eventually(
        [&] {
          while (GstMessage *m = gst_bus_pop(bus_))
            messages_.push_back(m);
          for (GstMessage *m : messages_)
            if (GST_MESSAGE_TYPE(m) == type && describe(m).find(text) != std::string::npos)
              found = m;
          return found != nullptr;
        },
        timeout_ms);
    return found;
  }
  int count_messages(GstMessageType type, const std::string &text) {
    wait_message(type, text, 0);
    int n = 0;
    for (GstMessage *m : messages_)
      n += GST_MESSAGE_TYPE(m) == type && describe(m).find(text) != std::string::npos;
    return n;
  }

  static std::string describe(GstMessage *m) {
    GError *error = nullptr;
    gchar *debug = nullptr;
    std::string text;
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR)
      gst_message_parse_error(m, &error, &debug);
    else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_WARNING)
      gst_message_parse_warning(m, &error, &debug);
    if (error) {
      text = error->message;
      g_error_free(error);
      g_free(debug);
    } else if (gst_message_get_structure(m)) {
      gchar *s = gst_structure_to_string(gst_message_get_structure(m));
      text = s;
      g_free(s);
    }
    return text;
  }

  gint64 longest_push_us = 0;

private:
  GstHarness *h_;
  GstElement *export_;
  GstBus *bus_;
  std::vector<GstMessage *> messages_;
};

const char *kRetryFast = "retry-delay=100 max-retry-delay=400 ";

TEST(Mqtt, AllFramesInOrderWithQos1AsTheFileHasThem) {
  REQUIRE_PROGRAM(SAM3_MOSQUITTO);
  Broker broker("in-order", "allow_anonymous true\n");
  ASSERT_TRUE(broker.start());
  Subscriber sub(broker, "sam3/#");
  ASSERT_TRUE(sub.wait_subscribed());

  // Two exporters in a row: the MQTT messages must be the file's lines, byte for byte.
  const std::string file = *g_dir + "/in-order.jsonl";
  const int frames = 300;
  {
    Exporter exporter("method=mqtt mqtt-qos=1 address=" + broker.address() +
                      " topic=sam3/{stream}/{element} stream-name=gate7 ! sam3export "
                      "location=" +
                      file);
    ASSERT_NE(exporter.wait_message(GST_MESSAGE_ELEMENT, "event=(string)connected", 10000),
              nullptr);
    for (int n = 0; n < frames; n++)
      ASSERT_EQ(exporter.push(n), GST_FLOW_OK);
    ASSERT_TRUE(sub.wait_for(frames));
    // The broker's acknowledgements may reach the exporter after the messages reached us.
    EXPECT_TRUE(eventually([&] { return exporter.count("messages-published") == frames; }, 5000))
        << exporter.count("messages-published");
    EXPECT_EQ(exporter.count("messages-dropped"), 0u);
  }
  const auto payloads = sub.payloads();
  ASSERT_EQ(payloads.size(), (size_t)frames);
  EXPECT_EQ(frame_numbers(payloads), range(0, frames));
  for (const auto &topic : sub.topics())
    EXPECT_EQ(topic, "sam3/gate7/export");

  std::ifstream in(file);
  std::string line;
  for (int n = 0; std::getline(in, line); n++) {
    ASSERT_LT(n, frames);
    EXPECT_EQ(payloads[n], line) << "frame " << n;
  }
}

// A broker with a persistent session for the subscriber "results": while the subscriber
// is away the broker keeps every message for it, so what the exporter delivers can be
// checked completely, whenever the exporter manages to connect.
class PersistentBroker : public Broker {
public:
  explicit PersistentBroker(const std::string &name)
      : Broker(name, "allow_anonymous true\npersistence true\npersistence_location " + *g_dir +
                         "/" + name + "/\nmax_queued_messages 0\n") {}

  // Registers the subscription, then shuts the broker down (keeping it on disk).
  bool prepare() {
    if (!start())
      return false;
    {
      Subscriber sub(*this, "late/#", {"results", "", "", ""});
      if (!sub.wait_subscribed())
        return false;
    }
    stop();
    return true;
  }
};

TEST(Mqtt, BrokerStartingLateLosesNothingWithinTheBound) {
  REQUIRE_PROGRAM(SAM3_MOSQUITTO);
  PersistentBroker broker("late");
  ASSERT_TRUE(broker.prepare());

  Exporter exporter(std::string("method=mqtt topic=late/cam max-queued=1000 ") + kRetryFast +
                    "address=" + broker.address());
  exporter.push_live(0, 60); // 2 s without a broker
  EXPECT_NE(exporter.wait_message(GST_MESSAGE_WARNING, "Cannot reach the MQTT broker", 0), nullptr);
  EXPECT_NE(exporter.wait_message(GST_MESSAGE_ELEMENT, "event=(string)disconnected", 0), nullptr);
  EXPECT_EQ(exporter.count("messages-published"), 0u);

  ASSERT_TRUE(broker.start());
  exporter.push_live(60, 90);
  ASSERT_TRUE(eventually([&] { return exporter.count("messages-published") == 90; }, 15000))
      << exporter.count("messages-published") << " published";
  EXPECT_EQ(exporter.count("messages-dropped"), 0u);
  EXPECT_LT(exporter.longest_push_us, 200000) << "a push waited on the network";

  Subscriber sub(broker, "late/#", {"results", "", "", ""});
  ASSERT_TRUE(sub.wait_for(90));
  EXPECT_EQ(frame_numbers(sub.payloads()), range(0, 90));
}

TEST(Mqtt, FullQueueDropsTheOldestAndCountsThem) {
  REQUIRE_PROGRAM(SAM3_MOSQUITTO);
  PersistentBroker broker("bound");
  ASSERT_TRUE(broker.prepare());

  Exporter exporter(std::string("method=mqtt topic=late/cam max-queued=20 ") + kRetryFast +
                    "address=" + broker.address());
  for (int n = 0; n < 50; n++)
    ASSERT_EQ(exporter.push(n), GST_FLOW_OK);
  EXPECT_EQ(exporter.count("messages-dropped"), 30u);

  ASSERT_TRUE(broker.start());
  ASSERT_TRUE(eventually([&] { return exporter.count("messages-published") == 20; }, 15000));
  Subscriber sub(broker, "late/#", {"results", "", "", ""});
  ASSERT_TRUE(sub.wait_for(20));
  EXPECT_EQ(frame_numbers(sub.payloads()), range(30, 50));
}

TEST(Mqtt, BrokerKilledAndRestartedMidStream) {
  REQUIRE_PROGRAM(SAM3_MOSQUITTO);
  Broker broker("restart", "allow_anonymous true\n");
  ASSERT_TRUE(broker.start());
  Subscriber sub(broker, "restart/#");
  ASSERT_TRUE(sub.wait_subscribed());

  Exporter exporter(std::string("method=mqtt topic=restart/cam ") + kRetryFast +
                    "address=" + broker.address());
  exporter.push_live(0, 30);
  ASSERT_TRUE(sub.wait_for(30));

  broker.kill_hard();
  exporter.push_live(30, 75); // 1.5 s without a broker
  EXPECT_NE(exporter.wait_message(GST_MESSAGE_WARNING, "Lost the MQTT broker", 0), nullptr);
  ASSERT_TRUE(broker.start());
  ASSERT_TRUE(sub.wait_subscribed(2));

  // Frames keep coming; the ones after the restart must reach the subscriber.
  guint64 n = 75;
  const bool resumed = eventually(
      [&] {
        EXPECT_EQ(exporter.push(n++), GST_FLOW_OK);
        const auto got = frame_numbers(sub.payloads());
        return !got.empty() && got.back() >= 80;
      },
      15000);
  ASSERT_TRUE(resumed) << "nothing arrived after the restart";
  EXPECT_EQ(exporter.count_messages(GST_MESSAGE_ELEMENT, "event=(string)connected"), 2);
  EXPECT_EQ(exporter.count_messages(GST_MESSAGE_ERROR, ""), 0);
  EXPECT_LT(exporter.longest_push_us, 200000) << "a push waited on the network";

  // In order; QoS 1 may deliver a message twice after a reconnection, never out of order.
  const auto got = frame_numbers(sub.payloads());
  for (size_t i = 1; i < got.size(); i++)
    EXPECT_LE(got[i - 1], got[i]) << "at message " << i;
}

// A pipeline that must fail to start: the error text.
std::string start_error(const std::string &properties) {
  GstElement *pipeline = gst_parse_launch(
      ("videotestsrc num-buffers=3 ! sam3export method=mqtt " + properties + " ! fakesink").c_str(),
      nullptr);
  GstBus *bus = gst_element_get_bus(pipeline);
  EXPECT_EQ(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  std::string text = m ? Exporter::describe(m) : "(no error)";
  if (m)
    gst_message_unref(m);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return text;
}

TEST(Mqtt, MalformedAddressOrTopicFailsAtStart) {
  EXPECT_NE(start_error("address=127.0.0.1:notaport").find("Invalid MQTT address"),
            std::string::npos);
  EXPECT_NE(start_error("address=127.0.0.1:70000").find("not a number from 1 to 65535"),
            std::string::npos);
  EXPECT_NE(start_error("address=fe80::1:1883").find("[ADDRESS]:PORT"), std::string::npos);
  EXPECT_NE(start_error("address=\"\"").find("no address"), std::string::npos);
  EXPECT_NE(start_error("topic=a/{camera}").find("Unknown placeholder {camera}"),
            std::string::npos);
  EXPECT_NE(start_error("topic=a/+/b").find("Invalid MQTT topic"), std::string::npos);
  EXPECT_NE(start_error("tls-ca-file=/nonexistent/ca.pem").find("Cannot read tls-ca-file"),
            std::string::npos);
}

// Unresolvable and refusing addresses are warnings: the name may resolve and the broker
// come up later, and the stream goes on meanwhile.
TEST(Mqtt, UnreachableAddressWarnsAndTheStreamGoesOn) {
  for (const std::string &address :
       {std::string("no-such-host.invalid:1883"), "127.0.0.1:" + std::to_string(free_port())}) {
    Exporter exporter(std::string("method=mqtt ") + kRetryFast + "address=" + address);
    for (int n = 0; n < 10; n++)
      ASSERT_EQ(exporter.push(n), GST_FLOW_OK);
    GstMessage *warning = exporter.wait_message(GST_MESSAGE_WARNING, "Cannot reach", 10000);
    ASSERT_NE(warning, nullptr) << address;
    const std::string text = Exporter::describe(warning);
    EXPECT_NE(text.find(address), std::string::npos) << text;
    if (address.find(".invalid") != std::string::npos)
      EXPECT_NE(text.find("cannot resolve the host"), std::string::npos) << text;
    else
      EXPECT_NE(text.find("Connection refused"), std::string::npos) << text;
    for (int n = 10; n < 20; n++)
      ASSERT_EQ(exporter.push(n), GST_FLOW_OK);
    EXPECT_EQ(exporter.count_messages(GST_MESSAGE_ERROR, ""), 0);
  }
}

// A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA.
class Tls : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    const std::string openssl = program("SAM3_OPENSSL");
    if (openssl.empty())
      return;
    const std::string d = *g_dir + "/tls";
    g_mkdir_with_parents(d.c_str(), 0700);
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    std::ofstream(d + "/san.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    ready_ =
        run(openssl + " req -x509" + key + "-keyout " + d + "/ca.key -out " + d +
            "/ca.pem -days 2 -subj /CN=sam3-test-ca") &&
        run(openssl + " req -x509" + key + "-keyout " + d + "/wrong.key -out " + d +
            "/wrong-ca.pem -days 2 -subj /CN=sam3-wrong-ca") &&
        run(openssl + " req" + key + "-keyout " + d + "/server.key -out " + d +
            "/server.csr -subj /CN=localhost") &&
        run(openssl + " x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
            "/ca.key -CAcreateserial -out " + d + "/server.pem -days 2 -extfile " + d + "/san.cnf");
  }
  void SetUp() override {
    if (program("SAM3_MOSQUITTO").empty() || program("SAM3_OPENSSL").empty())
      GTEST_SKIP() << "mosquitto or openssl is not installed";
    ASSERT_TRUE(ready_) << "openssl could not make the test certificates";
  }
  static std::string path(const std::string &name) { return *g_dir + "/tls/" + name; }
  static std::string broker_config() {
    return "allow_anonymous true\ncafile " + path("ca.pem") + "\ncertfile " + path("server.pem") +
           "\nkeyfile " + path("server.key") + "\n";
  }
  static bool ready_;
};
bool Tls::ready_ = false;

TEST_F(Tls, TheRightCaConnects) {
  Broker broker("tls-ok", broker_config());
  ASSERT_TRUE(broker.start());
  Subscriber sub(broker, "tls/#", {"", path("ca.pem"), "", ""});
  ASSERT_TRUE(sub.wait_subscribed());
  Exporter exporter("method=mqtt topic=tls/cam tls-ca-file=" + path("ca.pem") +
                    " address=" + broker.address());
  for (int n = 0; n < 20; n++)
    ASSERT_EQ(exporter.push(n), GST_FLOW_OK);
  ASSERT_TRUE(sub.wait_for(20)) << broker.log();
  EXPECT_EQ(frame_numbers(sub.payloads()), range(0, 20));
}

TEST_F(Tls, AnotherCaIsAnError) {
  Broker broker("tls-wrong", broker_config());
  ASSERT_TRUE(broker.start());
  Exporter exporter("method=mqtt topic=tls/cam tls-ca-file=" + path("wrong-ca.pem") +
                    " address=" + broker.address());
  GstMessage *error = exporter.wait_message(GST_MESSAGE_ERROR, "TLS", 10000);
  ASSERT_NE(error, nullptr) << broker.log();
  const std::string text = Exporter::describe(error);
  EXPECT_NE(text.find("certificate verify failed"), std::string::npos) << text;
  EXPECT_EQ(exporter.push(0), GST_FLOW_ERROR);
  EXPECT_EQ(exporter.count_messages(GST_MESSAGE_WARNING, ""), 0);
}

class Auth : public ::testing::Test {
protected:
  void SetUp() override {
    const std::string passwd = program("SAM3_MOSQUITTO_PASSWD");
    if (program("SAM3_MOSQUITTO").empty() || passwd.empty())
      GTEST_SKIP() << "mosquitto or mosquitto_passwd is not installed";
    const std::string file = *g_dir + "/passwords";
    ASSERT_TRUE(run(passwd + " -c -b " + file + " camera s3cret"));
    broker_ = std::make_unique<Broker>(
        std::string("auth-") + ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        "allow_anonymous false\npassword_file " + file + "\n");
    ASSERT_TRUE(broker_->start());
  }
  std::unique_ptr<Broker> broker_;
};

TEST_F(Auth, RightCredentialsPublish) {
  Subscriber sub(*broker_, "auth/#", {"", "", "camera", "s3cret"});
  ASSERT_TRUE(sub.wait_subscribed());
  Exporter exporter("method=mqtt topic=auth/cam username=camera password=s3cret address=" +
                    broker_->address());
  for (int n = 0; n < 10; n++)
    ASSERT_EQ(exporter.push(n), GST_FLOW_OK);
  ASSERT_TRUE(sub.wait_for(10));
  EXPECT_EQ(frame_numbers(sub.payloads()), range(0, 10));
}

TEST_F(Auth, WrongOrMissingCredentialsAreAnError) {
  for (const char *credentials : {"username=camera password=wrong",
                                  "username=intruder "
                                  "password=s3cret",
                                  ""}) {
    Exporter exporter("method=mqtt topic=auth/cam address=" + broker_->address() + " " +
                      std::string(credentials));
    GstMessage *error = exporter.wait_message(GST_MESSAGE_ERROR, "refused", 10000);
    ASSERT_NE(error, nullptr) << "credentials: " << credentials;
    EXPECT_NE(Exporter::describe(error).find("not authorised"), std::string::npos)
        << Exporter::describe(error);
    EXPECT_EQ(exporter.push(0), GST_FLOW_ERROR);
  }
}

} // namespace
