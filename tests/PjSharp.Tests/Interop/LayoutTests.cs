using System.Runtime.InteropServices;
using PjSharp.Interop;

namespace PjSharp.Tests.Interop;

/// <summary>Every generated struct's size and field offsets must equal what the C compiler says.</summary>
public unsafe class LayoutTests
{
    [Test]
    public void Every_generated_struct_and_field_matches_the_c_compiler()
    {
        var native = new Dictionary<(string, string), long>();
        var count = PjSharpNative.pjsharp_layout_count();
        for (var i = 0; i < count; i++)
        {
            var entry = PjSharpNative.pjsharp_layout_get(i);
            native[(Marshal.PtrToStringUTF8((nint)entry->Type)!, Marshal.PtrToStringUTF8((nint)entry->Member)!)] = (long)entry->Value;
        }
        var managed = GeneratedLayout.Entries.ToDictionary(e => (e.Type, e.Member), e => e.Value);

        Assert.That(managed.Keys, Is.EquivalentTo(native.Keys), "the C table and the generated C# cover the same structs and fields");
        var mismatches = managed.Where(e => native[e.Key] != e.Value)
            .Select(e => $"{e.Key.Item1}.{e.Key.Item2}: C# {e.Value}, C {native[e.Key]}").ToList();
        Assert.That(mismatches, Is.Empty);
        var structs = managed.Keys.Where(k => k.Item2.Length == 0).Select(k => k.Item1).ToHashSet();
        Assert.That(structs, Does.Contain("pjsip_rx_data").And.Contain("pjsip_tx_data").And.Contain("pjsip_module")
            .And.Contain("pjsip_inv_session").And.Contain("pjmedia_sdp_session").And.Contain("pjsip_tls_setting"));
    }

    [Test]
    public void The_packet_buffer_inside_rx_data_has_the_configured_size()
    {
        var settings = Enumerable.Range(0, PjSharpNative.pjsharp_build_setting_count()).Select(i =>
        {
            byte* name;
            long value;
            _ = PjSharpNative.pjsharp_build_setting_get(i, &name, &value);
            return (Name: Marshal.PtrToStringUTF8((nint)name)!, Value: value);
        }).ToDictionary(s => s.Name, s => s.Value);

        Assert.That(settings["PJSIP_MAX_PKT_LEN"], Is.EqualTo(PjConstants.PJSIP_MAX_PKT_LEN));
        Assert.That(sizeof(pjsip_rx_data), Is.GreaterThan(PjConstants.PJSIP_MAX_PKT_LEN));
    }
}
