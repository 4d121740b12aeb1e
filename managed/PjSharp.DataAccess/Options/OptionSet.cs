namespace PjSharp.DataAccess;

/// <summary>Declares the options of one object type; each kind of value has one helper.</summary>
internal sealed class OptionSet<T> where T : SipObject
{
    public List<ObjectOption> Options { get; } = [];

    public void Custom(string name, Func<T, string, T> apply, Func<T, string?> format, bool repeatable = false) =>
        Options.Add(new ObjectOption(
            name,
            repeatable,
            (o, v) => apply((T)o, v),
            (o, fields) =>
            {
                var text = format((T)o);
                if (text is not null)
                    fields.Add(new(name, text));
            }));

    /// <summary>An option whose lines are written by <paramref name="emit"/>, possibly under other names (ordered ACL rules).</summary>
    public void Lines(string name, Func<T, string, T> apply, Action<T, List<KeyValuePair<string, string>>>? emit) =>
        Options.Add(new ObjectOption(name, true, (o, v) => apply((T)o, v), (o, fields) => emit?.Invoke((T)o, fields)));

    public void Text(string name, Func<T, string> get, Func<T, string, T> set) =>
        Custom(name, (o, v) => set(o, v.Trim()), get);

    public void Bool(string name, Func<T, bool> get, Func<T, bool, T> set) =>
        Custom(name, (o, v) => set(o, OptionValues.ParseBool(v)), o => OptionValues.FormatBool(get(o)));

    public void UInt(string name, Func<T, uint> get, Func<T, uint, T> set, uint min = 0, uint max = uint.MaxValue) =>
        Custom(name, (o, v) => set(o, OptionValues.ParseUInt(v, min, max)), o => OptionValues.FormatUInt(get(o)));

    public void Double(string name, Func<T, double> get, Func<T, double, T> set, double min = 0, double max = double.MaxValue) =>
        Custom(name, (o, v) => set(o, OptionValues.ParseDouble(v, min, max)), o => OptionValues.FormatDouble(get(o)));

    public void Enum<TEnum>(string name, IReadOnlyList<(string Name, TEnum Value)> names, Func<T, TEnum> get, Func<T, TEnum, T> set)
        where TEnum : struct, System.Enum =>
        Custom(name, (o, v) => set(o, OptionValues.ParseEnum(v, names)), o => OptionValues.FormatEnum(get(o), names));

    /// <summary>A comma list that each line replaces (Asterisk's <c>auth</c>, <c>aors</c>).</summary>
    public void NameList(string name, Func<T, ValueList<string>> get, Func<T, ValueList<string>, T> set) =>
        Custom(name, (o, v) => set(o, OptionValues.ParseNameList(v)), o => get(o).ToString());

    /// <summary>A comma list that each line extends, with a parser per item (Asterisk's <c>match</c>, <c>contact</c>).</summary>
    public void AppendList<TItem>(string name, Func<T, ValueList<TItem>> get, Func<T, ValueList<TItem>, T> set, Func<string, TItem> parseItem, Func<TItem, string> formatItem) =>
        Custom(
            name,
            (o, v) =>
            {
                var list = get(o);
                foreach (var item in OptionValues.SplitList(v))
                {
                    var parsed = parseItem(item);
                    if (!list.Contains(parsed))
                        list = list.Add(parsed);
                }
                return set(o, list);
            },
            o => string.Join(",", get(o).Select(formatItem)),
            repeatable: true);

    /// <summary>A comma list of enum names that each line replaces, duplicates dropped (<c>identify_by</c>).</summary>
    public void EnumList<TEnum>(string name, IReadOnlyList<(string Name, TEnum Value)> names, Func<T, ValueList<TEnum>> get, Func<T, ValueList<TEnum>, T> set)
        where TEnum : struct, System.Enum =>
        Custom(
            name,
            (o, v) => set(o, ValueList.From(OptionValues.SplitList(v).Select(item => OptionValues.ParseEnum(item, names)).Distinct())),
            o => string.Join(",", get(o).Select(item => OptionValues.FormatEnum(item, names))));

    /// <summary>
    /// <c>permit</c> and <c>deny</c> lines feeding one ordered rule list: the last matching rule decides, so the lines are
    /// written back one rule at a time, in order, by the <c>permit</c> option.
    /// </summary>
    public void AclRules(string permitName, string denyName, Func<T, ValueList<AclRule>> get, Func<T, ValueList<AclRule>, T> set)
    {
        T Add(T o, string value, AclAction action)
        {
            var rules = get(o);
            foreach (var item in OptionValues.SplitList(value))
            {
                if (!NetworkText.TryParseNetwork(item, out var network))
                    throw new OptionValueException($"invalid value '{item}': expected an address or network (10.0.0.0/8, 10.0.0.0/255.0.0.0)");
                rules = rules.Add(new AclRule(action, network));
            }
            return set(o, rules);
        }

        Lines(permitName, (o, v) => Add(o, v, AclAction.Permit), (o, fields) =>
        {
            foreach (var rule in get(o))
                fields.Add(new(rule.Action == AclAction.Permit ? permitName : denyName, rule.Network.ToString()));
        });
        Lines(denyName, (o, v) => Add(o, v, AclAction.Deny), null);
    }
}
