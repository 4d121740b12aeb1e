using System.Collections;
using System.Runtime.CompilerServices;

namespace PjSharp.DataAccess;

/// <summary>
/// An immutable list compared by its items, so that records holding lists keep value equality.
/// The default value is the empty list.
/// </summary>
[CollectionBuilder(typeof(ValueList), nameof(ValueList.Create))]
public readonly struct ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[]? _items;

    internal ValueList(T[] items) => _items = items;

    /// <inheritdoc/>
    public int Count => _items?.Length ?? 0;

    /// <summary>True when the list has no item.</summary>
    public bool IsEmpty => Count == 0;

    /// <inheritdoc/>
    public T this[int index] => (_items ?? [])[index];

    /// <summary>The items as a span.</summary>
    public ReadOnlySpan<T> AsSpan() => _items;

    /// <summary>A list with <paramref name="item"/> added at the end.</summary>
    public ValueList<T> Add(T item)
    {
        var items = new T[Count + 1];
        AsSpan().CopyTo(items);
        items[^1] = item;
        return new ValueList<T>(items);
    }

    /// <summary>Whether the list holds <paramref name="item"/>.</summary>
    public bool Contains(T item) => Array.IndexOf(_items ?? [], item) >= 0;

    /// <inheritdoc/>
    public Enumerator GetEnumerator() => new(_items ?? []);

    IEnumerator<T> IEnumerable<T>.GetEnumerator() => ((IEnumerable<T>)(_items ?? [])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => (_items ?? []).GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(ValueList<T> other) => AsSpan().SequenceEqual(other.AsSpan());

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ValueList<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in AsSpan())
            hash.Add(item);
        return hash.ToHashCode();
    }

    /// <summary>The items joined with commas, as a config file writes a list.</summary>
    public override string ToString() => string.Join(",", _items ?? []);

    /// <summary>Compares two lists item by item.</summary>
    public static bool operator ==(ValueList<T> left, ValueList<T> right) => left.Equals(right);

    /// <summary>Compares two lists item by item.</summary>
    public static bool operator !=(ValueList<T> left, ValueList<T> right) => !left.Equals(right);

    /// <summary>Enumerates without allocating.</summary>
    public struct Enumerator : IEquatable<Enumerator>
    {
        private readonly T[] _items;
        private int _index;

        internal Enumerator(T[] items)
        {
            _items = items;
            _index = -1;
        }

        /// <summary>The current item.</summary>
        public readonly T Current => _items[_index];

        /// <summary>Moves to the next item.</summary>
        public bool MoveNext() => ++_index < _items.Length;

        /// <inheritdoc/>
        public readonly bool Equals(Enumerator other) => ReferenceEquals(_items, other._items) && _index == other._index;

        /// <inheritdoc/>
        public override readonly bool Equals(object? obj) => obj is Enumerator other && Equals(other);

        /// <inheritdoc/>
        public override readonly int GetHashCode() => HashCode.Combine(_items, _index);

        /// <summary>Compares enumerator positions.</summary>
        public static bool operator ==(Enumerator left, Enumerator right) => left.Equals(right);

        /// <summary>Compares enumerator positions.</summary>
        public static bool operator !=(Enumerator left, Enumerator right) => !left.Equals(right);
    }
}

/// <summary>Creates <see cref="ValueList{T}"/> values.</summary>
public static class ValueList
{
    /// <summary>A list holding a copy of <paramref name="items"/>.</summary>
    public static ValueList<T> Create<T>(ReadOnlySpan<T> items) => items.IsEmpty ? default : new ValueList<T>(items.ToArray());

    /// <summary>A list holding a copy of <paramref name="items"/>.</summary>
    public static ValueList<T> From<T>(IEnumerable<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var array = items.ToArray();
        return array.Length == 0 ? default : new ValueList<T>(array);
    }
}
