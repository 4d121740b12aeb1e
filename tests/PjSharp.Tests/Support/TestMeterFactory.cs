using System.Diagnostics.Metrics;

namespace PjSharp.Tests.Support;

/// <summary>An <see cref="IMeterFactory"/> whose meters are scoped to it, so a test listens only to its own instruments.</summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
        lock (_meters)
            _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        lock (_meters)
        {
            foreach (var meter in _meters)
                meter.Dispose();
            _meters.Clear();
        }
    }
}

/// <summary>Collects what the instruments of one <see cref="TestMeterFactory"/> record.</summary>
internal sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = [];

    public MetricRecorder(TestMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        _listener.Start();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
            copy[tag.Key] = tag.Value;
        lock (_measurements)
            _measurements.Add((instrument.Name, value, copy));
    }

    public IReadOnlyList<(double Value, Dictionary<string, object?> Tags)> Of(string instrument)
    {
        lock (_measurements)
            return _measurements.Where(m => m.Instrument == instrument).Select(m => (m.Value, m.Tags)).ToList();
    }

    /// <summary>Asks the observable instruments for their values now.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    public void Clear()
    {
        lock (_measurements)
            _measurements.Clear();
    }

    public void Dispose() => _listener.Dispose();
}
