namespace PjSharp.Bindings.Generator.Tests;

/// <summary>Refusals name the NativeMethods.txt / Handles.txt line or the header declaration at fault.</summary>
public class ErrorTests
{
    private const string Header = """
        #include <stddef.h>
        typedef struct item { int id; } item;
        typedef struct packed_bits { unsigned char a; unsigned int b : 30; } __attribute__((packed)) packed_bits;
        static inline int inline_add(int a, int b) { return a + b; }
        int log_format(const char *format, ...);
        void item_free(item *i);
        void item_free_two(item *i, int how);
        int item_count(void);
        #define ADD_ONE(x) ((x) + 1)
        #define NOT_A_NUMBER item_count
        """;

    private static GeneratorException Refusal(string methods, string? handles = null, string header = Header)
    {
        using var temp = new TempDirectory();
        temp.File("input.h", header);
        var options = new GeneratorOptions
        {
            MethodsFile = temp.File("NativeMethods.txt", "#include <input.h>\n" + methods),
            HandlesFile = handles == null ? null : temp.File("Handles.txt", handles),
            OutputCs = Path.Combine(temp.Path, "cs"),
            OutputNative = Path.Combine(temp.Path, "native"),
        };
        var error = Assert.Throws<GeneratorException>(() => BindingGenerator.Generate(options))!;
        Assert.That(File.Exists(Path.Combine(temp.Path, "cs", ".complete")), Is.False, "no completion marker after a refusal");
        return error;
    }

    [Test]
    public void An_inline_function_requested_by_name_is_refused_with_its_line()
    {
        var error = Refusal("item\ninline_add\n");
        Assert.That(error.Message, Does.Contain("NativeMethods.txt:3").And.Contain("'inline_add'").And.Contain("static or inline"));
    }

    [Test]
    public void A_variadic_function_requested_by_name_is_refused()
    {
        var error = Refusal("log_format\n");
        Assert.That(error.Message, Does.Contain("NativeMethods.txt:2").And.Contain("'log_format'").And.Contain("variadic"));
    }

    [Test]
    public void An_unknown_name_is_refused_with_its_line()
    {
        var error = Refusal("item\n// a comment\nno_such_function\n");
        Assert.That(error.Message, Does.Contain("NativeMethods.txt:4").And.Contain("'no_such_function'").And.Contain("not declared"));
    }

    [Test]
    public void Every_refusal_is_reported_at_once()
    {
        var error = Refusal("inline_add\nmissing_one\nmissing_two\n");
        Assert.That(error.Message.Split('\n'), Has.Length.EqualTo(3));
    }

    [Test]
    public void A_function_like_macro_requested_by_name_is_refused_as_such()
    {
        var error = Refusal("ADD_ONE\n");
        Assert.That(error.Message, Does.Contain("NativeMethods.txt:2").And.Contain("function-like macro"));
    }

    [Test]
    public void A_macro_that_is_not_a_constant_is_refused_by_name()
    {
        var error = Refusal("NOT_A_NUMBER\n");
        Assert.That(error.Message, Does.Contain("NativeMethods.txt:2").And.Contain("not an integer or string constant"));
    }

    [Test]
    public void A_malformed_line_is_refused()
    {
        var error = Refusal("item count\n");
        Assert.That(error.Message, Does.Contain("NativeMethods.txt:2").And.Contain("'item count'"));
    }

    [Test]
    public void A_bitfield_that_straddles_its_storage_unit_is_refused_naming_struct_and_field()
    {
        var error = Refusal("packed_bits\n");
        Assert.That(error.Message, Does.Contain("packed_bits.b").And.Contain("input.h:3"));
    }

    [Test]
    public void Headers_that_do_not_compile_are_refused_with_clang_diagnostics()
    {
        var error = Refusal("item\n", header: "typedef struct item { int id; } item;\nthis is not C;\n");
        Assert.That(error.Message, Does.Contain("do not compile").And.Contain("input.h:2"));
    }

    [Test]
    public void A_missing_header_is_refused()
    {
        var error = Refusal("item\n", header: "#include <no_such_header.h>\n");
        Assert.That(error.Message, Does.Contain("no_such_header.h"));
    }

    [Test]
    public void A_release_function_with_two_arguments_is_refused()
    {
        var error = Refusal("item\n", "item item_free_two ItemHandle\n");
        Assert.That(error.Message, Does.Contain("Handles.txt:1").And.Contain("exactly one pointer argument"));
    }

    [Test]
    public void A_release_function_for_another_type_is_refused()
    {
        var error = Refusal("item\n", "packed_bits item_free PackedHandle\n");
        Assert.That(error.Message, Does.Contain("Handles.txt:1").And.Contain("not a pointer to 'packed_bits'"));
    }

    [Test]
    public void An_unknown_release_function_is_refused()
    {
        var error = Refusal("item\n", "// comment\nitem item_destroy ItemHandle\n");
        Assert.That(error.Message, Does.Contain("Handles.txt:2").And.Contain("'item_destroy'"));
    }

    [Test]
    public void A_malformed_handle_line_is_refused()
    {
        var error = Refusal("item\n", "item item_free\n");
        Assert.That(error.Message, Does.Contain("Handles.txt:1").And.Contain("expected"));
    }

    [Test]
    public void A_methods_file_without_include_lines_is_refused()
    {
        using var temp = new TempDirectory();
        var options = new GeneratorOptions
        {
            MethodsFile = temp.File("NativeMethods.txt", "item\n"),
            OutputCs = Path.Combine(temp.Path, "cs"),
            OutputNative = Path.Combine(temp.Path, "native"),
        };
        var error = Assert.Throws<GeneratorException>(() => BindingGenerator.Generate(options))!;
        Assert.That(error.Message, Does.Contain("#include"));
    }
}
