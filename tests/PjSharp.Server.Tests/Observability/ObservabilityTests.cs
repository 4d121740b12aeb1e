using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PjSharp.DataAccess;
using PjSharp.Diagnostics;
using PjSharp.Hosting;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Observability;

/// <summary>The PjSharp meter and activity source of a server hosted in this process, with SIPp and a phone as peers.</summary>
[NonParallelizable]
[CancelAfter(90_000)]
public sealed class ObservabilityTests
{
    /// <summary>Every measurement of the server's own meter, by instrument name and tags.</summary>
    private sealed class Measurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Name, long Value, Dictionary<string, object?> Tags)> _seen = new();

        public Measurements(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var tag in tags)
                    copy[tag.Key] = tag.Value;
                _seen.Enqueue((instrument.Name, value, copy));
            });
            _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
                _seen.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal))));
            _listener.Start();
        }

        /// <summary>The sum of a counter's increments whose tags include all of <paramref name="tags"/>.</summary>
        public long Sum(string name, params (string Key, object Value)[] tags) =>
            _seen.Where(m => m.Name == name && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v, t.Value))).Sum(m => m.Value);

        /// <summary>The latest value of an observable instrument, read now.</summary>
        public long? Observe(string name)
        {
            _listener.RecordObservableInstruments();
            return _seen.LastOrDefault(m => m.Name == name) is { Name: not null } found ? found.Value : null;
        }

        public string Dump() => string.Join("\n", _seen.Select(m => $"{m.Name} {m.Value} {string.Join(",", m.Tags.Select(t => $"{t.Key}={t.Value}"))}"));

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>Spans of the PjSharp source, recorded in full.</summary>
    private sealed class Spans : IDisposable
    {
        private readonly ActivityListener _listener;

        public Spans()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == PjSharpActivities.SourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = Stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public ConcurrentQueue<Activity> Stopped { get; } = new();

        public async Task<Activity> WaitAsync(Func<Activity, bool> match)
        {
            for (var i = 0; i < 100; i++)
            {
                if (Stopped.FirstOrDefault(match) is { } found)
                    return found;
                await Task.Delay(100);
            }
            Assert.Fail("no such span; seen: " + string.Join(", ", Stopped.Select(a => $"{a.DisplayName} {a.GetTagItem("sip.call_id")}")));
            return null!;
        }

        public void Dispose() => _listener.Dispose();
    }

    private static Task<ObjectStore> MemoryStoreAsync(params SipObject[] objects)
    {
        var store = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend());
        foreach (var type in ObjectTypes.All)
            store.Map(type, "memory");
        var built = store.Build();
        return Task.Run(async () =>
        {
            foreach (var item in objects)
                await built.CreateAsync(item);
            return built;
        });
    }

    private static readonly SipObject[] s_alice =
    [
        new DataAccess.Endpoint("alice") { Auth = [.. new[] { "alice" }], Aors = [.. new[] { "alice" }] },
        new Auth("alice") { Username = "alice", Password = "secret-alice" },
        new Aor("alice") { MaxContacts = 2 },
    ];

    private static async Task<IHost> StartHostAsync(Action<PjSharpOptions>? configure = null, Action<PjSharpBuilder>? build = null, params SipObject[] objects)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var pjsharp = builder.Services.AddPjSharp(options =>
            {
                options.Transports.Add("udp:127.0.0.1:0");
                options.WorkerThreads = 1;
                options.Sessions.RtpPortStart = 32400;
                options.Sessions.RtpPortEnd = 32600;
                configure?.Invoke(options);
            })
            .UseObjectStore((_, _) => MemoryStoreAsync(objects.Length > 0 ? objects : s_alice));
        build?.Invoke(pjsharp);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static SippOptions OptionsRun(IPEndPoint udp, int calls) => new()
    {
        Scenario = SippRunner.Scenario("options-uac.xml"),
        Target = $"127.0.0.1:{udp.Port}",
        MaxCalls = calls,
        Rate = 50,
        Timeout = TimeSpan.FromSeconds(20),
        TraceErrors = true,
    };

    [Test]
    public async Task Meter_counts_requests_and_responses_by_method_status_and_direction_and_observes_registrations()
    {
        SipTestServer.RequireSipp();
        using var host = await StartHostAsync();
        try
        {
            var server = host.Services.GetRequiredService<PjSharp.Hosting.PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            using var metrics = new Measurements(server.Meter);

            var options = await SippRunner.RunAsync(OptionsRun(udp, 3));
            Assert.That(options.Successful, Is.EqualTo(3), options.ToString());
            using var alice = new SipPhone(udp, "alice", "secret-alice");
            var answer = await alice.RegisterAsync();
            Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer);

            const string Requests = "pjsharp.sip.requests";
            const string Responses = "pjsharp.sip.responses";
            var dump = metrics.Dump();
            Assert.Multiple(() =>
            {
                Assert.That(metrics.Sum(Requests, ("sip.method", "OPTIONS"), ("network.io.direction", "receive")), Is.EqualTo(3), dump);
                Assert.That(metrics.Sum(Responses, ("sip.method", "OPTIONS"), ("sip.response.status_code", 200), ("network.io.direction", "transmit")), Is.EqualTo(3), dump);
                Assert.That(metrics.Sum(Requests, ("sip.method", "REGISTER"), ("network.io.direction", "receive")), Is.EqualTo(2), dump);
                Assert.That(metrics.Sum(Responses, ("sip.method", "REGISTER"), ("sip.response.status_code", 401), ("network.io.direction", "transmit")), Is.EqualTo(1), dump);
                Assert.That(metrics.Sum(Responses, ("sip.method", "REGISTER"), ("sip.response.status_code", 200), ("network.io.direction", "transmit")), Is.EqualTo(1), dump);
                Assert.That(metrics.Sum(Requests, ("network.io.direction", "transmit")), Is.Zero, "the server sent no request");
                Assert.That(metrics.Observe("pjsharp.sip.registrations.active"), Is.EqualTo(1));
                Assert.That(metrics.Observe("pjsharp.sip.registrations.accepted"), Is.EqualTo(1));
                Assert.That(metrics.Observe("pjsharp.pjsip.pool.used"), Is.GreaterThan(0));
                Assert.That(metrics.Observe("pjsharp.pjsip.pools"), Is.GreaterThan(0));
                Assert.That(metrics.Observe("pjsharp.sip.transactions"), Is.Not.Null.And.GreaterThanOrEqualTo(0));
                Assert.That(metrics.Observe("pjsharp.sip.sessions.active"), Is.Zero);
                Assert.That(metrics.Sum("pjsharp.security.events", ("event", "auth_failed")), Is.Zero);
            });

            // A wrong password: one more challenge, and an authentication failure on the security counter.
            using var guesser = new SipPhone(udp, "alice", "not-the-password");
            Assert.That(SipWire.StatusOf(await guesser.RegisterAsync()), Is.EqualTo(401));
            Assert.That(metrics.Sum("pjsharp.security.events", ("event", "auth_failed")), Is.EqualTo(1), metrics.Dump());
            Assert.That(metrics.Sum(Responses, ("sip.method", "REGISTER"), ("sip.response.status_code", 401), ("network.io.direction", "transmit")), Is.EqualTo(3));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public void Method_and_status_tags_are_cached_objects_so_counting_does_not_allocate()
    {
        var register = SipMetrics.MethodTag("REGISTER"u8);
        var busy = SipMetrics.StatusTag(486);
        Assert.That(SipMetrics.MethodTag("REGISTER"u8), Is.SameAs(register));
        Assert.That(SipMetrics.MethodTag("FOO"u8), Is.EqualTo("_OTHER"));
        Assert.That(SipMetrics.StatusTag(486), Is.SameAs(busy).And.EqualTo(486));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            _ = SipMetrics.MethodTag("OPTIONS"u8);
            _ = SipMetrics.StatusTag(200);
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public async Task Register_span_continues_the_callers_traceparent_and_carries_method_call_id_status_and_endpoint()
    {
        using var spans = new Spans();
        using var host = await StartHostAsync();
        try
        {
            var server = host.Services.GetRequiredService<PjSharp.Hosting.PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            using var alice = new SipPhone(udp, "alice", "secret-alice");
            var traceId = ActivityTraceId.CreateRandom();
            var parentId = ActivitySpanId.CreateRandom();

            var answer = await alice.RegisterAsync(headers: [$"traceparent: 00-{traceId}-{parentId}-01"]);
            Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer);

            var span = await spans.WaitAsync(a => a.DisplayName == "REGISTER" && (string?)a.GetTagItem("sip.call_id") == alice.CallId);
            Assert.Multiple(() =>
            {
                Assert.That(span.Kind, Is.EqualTo(ActivityKind.Server));
                Assert.That(span.TraceId, Is.EqualTo(traceId));
                Assert.That(span.ParentSpanId, Is.EqualTo(parentId));
                Assert.That(span.HasRemoteParent, Is.True);
                Assert.That(span.GetTagItem("sip.method"), Is.EqualTo("REGISTER"));
                Assert.That(span.GetTagItem("sip.status_code"), Is.EqualTo(200));
                Assert.That(span.GetTagItem("pjsharp.endpoint"), Is.EqualTo("alice"));
                Assert.That(span.Status, Is.EqualTo(ActivityStatusCode.Unset));
            });
            // The 401 before it was interception's answer, not the registrar's: one span only.
            Assert.That(spans.Stopped.Count(a => (string?)a.GetTagItem("sip.call_id") == alice.CallId), Is.EqualTo(1));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public async Task Invite_session_span_lasts_from_invite_to_the_end_of_the_call()
    {
        SipTestServer.RequireSipp();
        using var spans = new Spans();
        using var host = await StartHostAsync(
            build: pjsharp => pjsharp.MapInvite("hello", async (session, _) =>
            {
                await session.AnswerAsync();
                await session.Completion;
            }),
            objects:
            [
                new DataAccess.Endpoint("trunk") { Allow = [.. new[] { "ulaw" }] },
                new Identify("trunk") { Endpoint = "trunk", MatchNetworks = [.. new[] { IPNetwork.Parse("127.0.0.0/8") }] },
            ]);
        try
        {
            var server = host.Services.GetRequiredService<PjSharp.Hosting.PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            var result = await SippRunner.RunAsync(new SippOptions
            {
                Scenario = SippRunner.Scenario("call-uac.xml"),
                Target = $"127.0.0.1:{udp.Port}",
                Service = "hello",
                MaxCalls = 1,
                Timeout = TimeSpan.FromSeconds(20),
                TraceErrors = true,
                ExtraArguments = ["-d", "300"],
            });
            Assert.That(result.Successful, Is.EqualTo(1), result.ToString());

            var span = await spans.WaitAsync(a => a.DisplayName == "INVITE");
            Assert.Multiple(() =>
            {
                Assert.That(span.Kind, Is.EqualTo(ActivityKind.Server));
                Assert.That(span.GetTagItem("sip.method"), Is.EqualTo("INVITE"));
                Assert.That((string?)span.GetTagItem("sip.call_id"), Is.Not.Empty);
                Assert.That(span.GetTagItem("pjsharp.endpoint"), Is.EqualTo("trunk"));
                Assert.That(span.GetTagItem("sip.status_code"), Is.Not.Null);
                Assert.That(span.Duration, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)), "the span covers the call, not just the INVITE");
            });
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
