using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace PjSharp.Bindings.Generator.Tests;

/// <summary>The generated bitfield properties read and write the same bits as C does (golden case 'bitfields').</summary>
public class BitfieldTests
{
    private static readonly (string Name, long Value)[] Values =
    [
        ("ready", 1), ("mode", 5), ("delta", -3), ("big", 0xABCDE), ("after", 0x7F), ("small", 2), ("more", 9),
    ];

    private const string Program = """
        #include <stdio.h>
        #include <string.h>
        #include <input.h>
        int main(void)
        {
            flags f;
            memset(&f, 0, sizeof f);
            f.ready = 1; f.mode = 5; f.delta = -3; f.big = 0xABCDE; f.after = 0x7F; f.small = 2; f.more = 9;
            for (size_t i = 0; i < sizeof f; i++)
                printf("%02x", ((unsigned char *)&f)[i]);
            printf("\n");
            memset(&f, 0xA5, sizeof f);
            printf("%u %u %d %u %u %u %u\n", f.ready, f.mode, f.delta, f.big, (unsigned char)f.after, f.small, f.more);
            return 0;
        }
        """;

    [Test]
    public void Csharp_properties_write_and_read_the_bits_c_does()
    {
        var (csc, pack) = Toolchain.RequireOrIgnore();
        var golden = GoldenCase.Named("bitfields");
        using var temp = new TempDirectory();
        golden.Generate(temp.Path);
        var c = Toolchain.CompileAndRunC(golden, temp, temp.File("main.c", Program)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var dll = Toolchain.CompileCSharp(csc, pack, temp);

        var context = new AssemblyLoadContext("bitfields", isCollectible: true);
        try
        {
            var type = context.LoadFromAssemblyPath(dll).GetType("PjSharp.Interop.flags", throwOnError: true)!;
            var size = Marshal.SizeOf(type);

            // Write through the properties, compare the bytes.
            var boxed = Activator.CreateInstance(type)!;
            foreach (var (name, value) in Values)
                Set(boxed, name, value);
            var memory = Marshal.AllocHGlobal(size);
            try
            {
                Marshal.StructureToPtr(boxed, memory, fDeleteOld: false);
                var bytes = new byte[size];
                Marshal.Copy(memory, bytes, 0, size);
                Assert.That(Convert.ToHexStringLower(bytes), Is.EqualTo(c[0]), "bytes written");

                // Read through the properties from the same bit pattern C read.
                Marshal.Copy(Enumerable.Repeat((byte)0xA5, size).ToArray(), 0, memory, size);
                var read = Marshal.PtrToStructure(memory, type)!;
                var values = Values.Select(v => Get(read, v.Name));
                Assert.That(string.Join(' ', values), Is.EqualTo(c[1]), "values read");
            }
            finally
            {
                Marshal.FreeHGlobal(memory);
            }
        }
        finally
        {
            context.Unload();
        }
    }

    // Bitfields are properties; ordinary members (like 'after') are fields.
    private static void Set(object target, string name, long value)
    {
        var type = target.GetType();
        if (type.GetProperty(name) is { } property)
            property.SetValue(target, Convert.ChangeType(value, property.PropertyType, CultureInfo.InvariantCulture));
        else
            type.GetField(name)!.SetValue(target, Convert.ChangeType(value, type.GetField(name)!.FieldType, CultureInfo.InvariantCulture));
    }

    private static long Get(object target, string name)
    {
        var type = target.GetType();
        var value = type.GetProperty(name) is { } property ? property.GetValue(target) : type.GetField(name)!.GetValue(target);
        return Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }
}
