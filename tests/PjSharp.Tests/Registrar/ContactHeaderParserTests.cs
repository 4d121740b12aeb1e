using PjSharp.Registrar;

namespace PjSharp.Tests.Registrar;

public sealed class ContactHeaderParserTests
{
    private static IReadOnlyList<ContactEntry> Parse(params string[] values)
    {
        Assert.That(ContactHeaderParser.TryParse(values, out var entries, out var error), Is.True, error);
        return entries!;
    }

    private static string Fail(params string[] values)
    {
        Assert.That(ContactHeaderParser.TryParse(values, out var entries, out var error), Is.False);
        Assert.That(entries, Is.Null);
        return error!;
    }

    [Test]
    public void An_addr_spec_takes_every_parameter_as_a_header_parameter()
    {
        var entry = Parse("sip:alice@192.0.2.1:5060;transport=tcp;expires=60").Single();
        Assert.That(entry.Uri, Is.EqualTo("sip:alice@192.0.2.1:5060"));
        Assert.That(entry.Expires, Is.EqualTo(60));
        Assert.That(entry.DisplayName, Is.Null);
        Assert.That(entry.IsWildcard, Is.False);
        Assert.That(entry.Parameters, Is.EqualTo(new KeyValuePair<string, string?>[] { new("transport", "tcp"), new("expires", "60") }));
    }

    [Test]
    public void A_name_addr_keeps_uri_parameters_in_the_uri()
    {
        var entry = Parse("<sip:alice@example.com;transport=tcp;ob> ; expires = 30 ;q=0.7;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"").Single();
        Assert.That(entry.Uri, Is.EqualTo("sip:alice@example.com;transport=tcp;ob"));
        Assert.That(entry.Expires, Is.EqualTo(30));
        Assert.That(entry.Q, Is.EqualTo(0.7));
        Assert.That(entry.Parameters.Select(p => p.Key), Is.EqualTo(new[] { "expires", "q", "reg-id", "+sip.instance" }));
        Assert.That(entry.Parameters[3].Value, Is.EqualTo("<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"), "quoted values are unquoted");
    }

    [Test]
    public void Display_names_quoted_or_not_and_quoted_commas_do_not_split_entries()
    {
        var entries = Parse("\"Smith, John\" <sip:john@h>;expires=0, Alice  Liddell <sip:alice@h>, \"Say \\\"hi\\\"\" <sips:x@h>");
        Assert.That(entries.Select(e => e.DisplayName), Is.EqualTo(new[] { "Smith, John", "Alice  Liddell", "Say \"hi\"" }));
        Assert.That(entries.Select(e => e.Uri), Is.EqualTo(new[] { "sip:john@h", "sip:alice@h", "sips:x@h" }));
        Assert.That(entries[0].Expires, Is.Zero);
    }

    [Test]
    public void Commas_inside_angle_brackets_and_quoted_parameters_do_not_split_entries()
    {
        var entries = Parse("<sip:a@h?Subject=one,two>;note=\"a, b; c\", sip:b@h");
        Assert.That(entries.Select(e => e.Uri), Is.EqualTo(new[] { "sip:a@h?Subject=one,two", "sip:b@h" }));
        Assert.That(entries[0].Parameters.Single(), Is.EqualTo(new KeyValuePair<string, string?>("note", "a, b; c")));
    }

    [Test]
    public void Several_header_lines_and_comma_separated_values_keep_their_order()
    {
        var entries = Parse("<sip:1@h>, <sip:2@h>", "sip:3@h;expires=5 , sip:4@h");
        Assert.That(entries.Select(e => e.Uri), Is.EqualTo(new[] { "sip:1@h", "sip:2@h", "sip:3@h", "sip:4@h" }));
        Assert.That(entries.Select(e => e.Expires), Is.EqualTo(new uint?[] { null, null, 5, null }));
    }

    [Test]
    public void A_flag_parameter_has_no_value_and_names_compare_without_case()
    {
        var entry = Parse("<sip:a@h>;OB;EXPIRES=10;Q=1.000").Single();
        Assert.That(entry.Parameters[0], Is.EqualTo(new KeyValuePair<string, string?>("OB", null)));
        Assert.That(entry.Expires, Is.EqualTo(10));
        Assert.That(entry.Q, Is.EqualTo(1.0));
    }

    [TestCase("*")]
    [TestCase("  *  ")]
    public void The_wildcard_stands_alone(string value)
    {
        var entry = Parse(value).Single();
        Assert.That(entry.IsWildcard, Is.True);
        Assert.That(entry, Is.SameAs(ContactEntry.Wildcard));
    }

    [Test]
    public void A_wildcard_among_other_contacts_parses_for_the_planner_to_refuse()
    {
        Assert.That(Parse("*, <sip:a@h>").Select(e => e.IsWildcard), Is.EqualTo(new[] { true, false }));
    }

    [Test]
    public void An_expiry_past_32_bits_saturates()
    {
        Assert.That(Parse("<sip:a@h>;expires=99999999999999999999").Single().Expires, Is.EqualTo(uint.MaxValue));
    }

    [TestCase("", "empty value")]
    [TestCase("   ", "empty value")]
    [TestCase("*;expires=0", "'*' takes no parameters")]
    [TestCase("<sip:a@h", "'<' without '>'")]
    [TestCase("<>", "the URI is missing")]
    [TestCase("<alice>", "'alice' is not a URI")]
    [TestCase("<1sip:a@h>", "'1sip:a@h' is not a URI")]
    [TestCase("<sip:a b@h>", "contains ' '")]
    [TestCase("\"Alice <sip:a@h>", "quoted string is not closed")]
    [TestCase("\"Alice\" sip:a@h", "must be followed by <URI>")]
    [TestCase("Al@ice <sip:a@h>", "'@' in an unquoted display name")]
    [TestCase("<sip:a@h>,", "',' is followed by nothing")]
    [TestCase("<sip:a@h>, ,<sip:b@h>", "an entry between commas is empty")]
    [TestCase("<sip:a@h> junk", "unexpected 'j' at position 11")]
    [TestCase("<sip:a@h>;", "parameter name is missing")]
    [TestCase("<sip:a@h>;expires=", "parameter 'expires' has no value")]
    [TestCase("<sip:a@h>;expires=soon", "expires must be a number of seconds, not 'soon'")]
    [TestCase("<sip:a@h>;expires=-1", "expires must be a number")]
    [TestCase("<sip:a@h>;q=2", "q must be between 0 and 1")]
    [TestCase("<sip:a@h>;q=0.12345", "q must be between 0 and 1")]
    [TestCase("<sip:a@h>;q=1.5", "q must be between 0 and 1")]
    public void Malformed_values_fail_with_a_clear_reason(string value, string expected)
    {
        var error = Fail(value);
        Assert.That(error, Does.Contain(expected));
        Assert.That(error, Does.StartWith("invalid Contact '" + value + "'"));
    }

    [Test]
    public void One_bad_header_line_fails_the_whole_request()
    {
        Assert.That(Fail("<sip:a@h>", "<sip:b@h"), Does.Contain("'<sip:b@h'"));
    }
}
